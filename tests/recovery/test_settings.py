"""Settings come from RECOVERY_* variables, refuse unsafe combinations and never show secrets."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from policies.loader import DATA_DIR
from recovery.settings import DEVELOPMENT_MNEMONIC, Settings

OWN_MNEMONIC = "immense venue example moral sausage virtual sea crush proof fury long flower"
TRUFFLE = "candy maple cake sugar pudding cream honey rich smooth crumble sweet treat"
GANACHE = "myth like bonus scare over problem client lizard pioneer submit female collect"
DEVNET_OVERLAY = DATA_DIR / "devnet.yaml"


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


def _refused(**values: object) -> ValidationError:
    with pytest.raises(ValidationError) as raised:
        Settings(environment="production", _env_file=None, **values)  # type: ignore[arg-type]
    return raised.value


@pytest.mark.parametrize(
    "mnemonic",
    [
        DEVELOPMENT_MNEMONIC,
        DEVELOPMENT_MNEMONIC.replace("test", "Test", 1),
        DEVELOPMENT_MNEMONIC.upper(),
        DEVELOPMENT_MNEMONIC.replace(" ", "  ", 1),
        "  " + DEVELOPMENT_MNEMONIC + "  ",
        DEVELOPMENT_MNEMONIC.replace(" ", "\t", 2),
        DEVELOPMENT_MNEMONIC.replace(" junk", "\njunk") + "\n",
        TRUFFLE,
        TRUFFLE.title(),
        GANACHE,
        GANACHE.replace(" ", "\t\n "),
    ],
    ids=[
        "anvil",
        "capital",
        "upper",
        "doubled-space",
        "leading-trailing",
        "tabs",
        "newlines",
        "truffle",
        "truffle-title",
        "ganache",
        "ganache-mixed-space",
    ],
)
def test_production_refuses_every_spelling_of_a_development_mnemonic(mnemonic: str) -> None:
    error = _refused(mnemonic=mnemonic)

    (problem,) = error.errors()
    assert problem["loc"] == ("mnemonic",)
    assert "public development mnemonic" in problem["msg"]
    text = str(error)
    for word in set(mnemonic.lower().split()):
        assert word not in text.lower()


def test_production_refuses_a_development_mnemonic_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RECOVERY_ENVIRONMENT", "production")
    monkeypatch.setenv("RECOVERY_MNEMONIC", " " + TRUFFLE.upper() + "\n")
    with pytest.raises(ValidationError, match="public development mnemonic") as raised:
        Settings(_env_file=None)
    assert "candy" not in str(raised.value).lower()


def test_development_keeps_the_anvil_mnemonic_and_production_a_mnemonic_of_its_own() -> None:
    development = Settings(mnemonic=DEVELOPMENT_MNEMONIC, policy_overlays=["devnet"])
    production = Settings(environment="production", mnemonic=OWN_MNEMONIC, _env_file=None)

    assert development.mnemonic is not None
    assert development.mnemonic.get_secret_value() == DEVELOPMENT_MNEMONIC
    assert production.mnemonic is not None
    assert production.mnemonic.get_secret_value() == OWN_MNEMONIC


def _copy_of_the_devnet_overlay(tmp_path: Path) -> str:
    copy = tmp_path / "prices.yaml"
    shutil.copy(DEVNET_OVERLAY, copy)
    return str(copy)


def _custom_devnet_mark(tmp_path: Path) -> str:
    custom = tmp_path / "local-nodes.yml"
    custom.write_text("networks:\n  polygon:\n    devnet: yes\n    confirmations: 1\n")
    return str(custom)


@pytest.mark.parametrize(
    ("overlay", "marked"),
    [
        (lambda tmp: "devnet", "bsc, ethereum"),
        (lambda tmp: str(DEVNET_OVERLAY), "bsc, ethereum"),
        (lambda tmp: "policies/data/devnet.yaml", "bsc, ethereum"),
        (_copy_of_the_devnet_overlay, "bsc, ethereum"),
        (_custom_devnet_mark, "polygon"),
    ],
    ids=["name", "absolute-path", "relative-path", "copy-under-another-name", "custom-overlay"],
)
def test_production_refuses_any_overlay_that_marks_a_devnet(
    tmp_path: Path, overlay: object, marked: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    given = overlay(tmp_path)  # type: ignore[operator]
    prices = tmp_path / "real-prices.yaml"
    prices.write_text("prices:\n  by_token: {}\n")

    error = _refused(policy_overlays=[str(prices), given])

    (problem,) = error.errors()
    assert problem["loc"] == ("policy_overlays",)
    assert f"overlay 2 marks {marked} as devnet" in problem["msg"]
    assert "for development only" in problem["msg"]


def test_production_refuses_the_devnet_overlay_given_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RECOVERY_ENVIRONMENT", "production")
    monkeypatch.setenv("RECOVERY_POLICY_OVERLAYS", f" {DEVNET_OVERLAY} ")
    with pytest.raises(ValidationError, match="overlay 1 marks bsc, ethereum as devnet"):
        Settings(_env_file=None)


def test_production_takes_an_overlay_that_marks_no_devnet(tmp_path: Path) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text("networks:\n  polygon:\n    confirmations: 200\n")

    settings = Settings(environment="production", policy_overlays=[str(prices)], _env_file=None)

    assert settings.policy_overlays == [str(prices)]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "overlay 2 cannot be loaded: cannot read"),
        ("networks: [unclosed", "overlay 2 cannot be loaded: line 1"),
        ("networks:\n  atlantis:\n    devnet: true\n", "networks.atlantis: not in the base"),
    ],
    ids=["missing", "not-yaml", "unknown-network"],
)
def test_an_overlay_that_cannot_be_loaded_is_its_own_error(
    tmp_path: Path, content: str | None, problem: str
) -> None:
    harmless = tmp_path / "harmless.yaml"
    harmless.write_text("prices:\n  by_token: {}\n")
    broken = tmp_path / "broken.yaml"
    if content is not None:
        broken.write_text(content)

    error = _refused(policy_overlays=[str(harmless), str(broken)])

    (found,) = error.errors()
    assert found["loc"] == ("policy_overlays",)
    assert problem in found["msg"]
    assert "marks" not in found["msg"]


def test_the_mnemonic_is_never_shown_by_repr_str_or_dump() -> None:
    settings = Settings(mnemonic=OWN_MNEMONIC)

    shown = [
        repr(settings),
        str(settings),
        str(settings.model_dump()),
        settings.model_dump_json(),
        repr(settings.mnemonic),
    ]
    for text in shown:
        for word in OWN_MNEMONIC.split():
            assert word not in text, text


def test_a_settings_error_names_the_field_and_rule_never_the_input() -> None:
    # A rule over several fields used to print the whole input, the mnemonic included.
    with pytest.raises(ValidationError) as raised:
        Settings(mnemonic=OWN_MNEMONIC, rpc_rest_seconds=10, rpc_max_rest_seconds=5)
    with pytest.raises(ValidationError) as wrong_type:
        Settings(mnemonic=OWN_MNEMONIC, environment="staging")  # type: ignore[arg-type]

    assert "RECOVERY_RPC_MAX_REST_SECONDS must be at least" in str(raised.value)
    assert "environment" in str(wrong_type.value)
    for error in (raised.value, wrong_type.value):
        for word in OWN_MNEMONIC.split():
            assert word not in str(error)
        assert "input_value" not in str(error)
