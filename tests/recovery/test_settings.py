"""Settings come from RECOVERY_* variables and refuse unsafe combinations."""

from __future__ import annotations

import pytest

from recovery.settings import DEVELOPMENT_MNEMONIC, Settings


def test_rpc_endpoints_per_network_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECOVERY_RPC__BSC", "http://a:1, http://b:2")
    monkeypatch.setenv("RECOVERY_RPC__ETHEREUM", "http://c:3")
    monkeypatch.setenv("RECOVERY_POLICY_OVERLAYS", "devnet,/etc/recovery/prices.yaml")
    settings = Settings()
    assert settings.rpc == {"bsc": ["http://a:1", "http://b:2"], "ethereum": ["http://c:3"]}
    assert settings.policy_overlays == ["devnet", "/etc/recovery/prices.yaml"]


def test_defaults_are_a_local_sqlite_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECOVERY_DATABASE_URL", raising=False)
    settings = Settings(_env_file=None)
    assert settings.database_url == "sqlite:///./recovery.db"
    assert settings.is_sqlite


def test_plain_postgresql_urls_use_the_shipped_driver() -> None:
    settings = Settings(database_url="postgresql://u:p@db:5432/recovery")
    assert settings.database_url == "postgresql+psycopg://u:p@db:5432/recovery"
    assert not settings.is_sqlite


def test_production_refuses_the_devnet_overlay() -> None:
    with pytest.raises(ValueError, match="devnet policy overlay"):
        Settings(environment="production", policy_overlays=["devnet"])
    with pytest.raises(ValueError, match="development mnemonic"):
        Settings(environment="production", mnemonic=DEVELOPMENT_MNEMONIC)
