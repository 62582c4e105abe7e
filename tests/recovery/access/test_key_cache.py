"""An API process remembers the keys it checked for a few seconds: one read per key, not
per request, while a revocation stops the key at once where it was made and within the
cache's seconds everywhere else."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from recovery.access.keys import KeyCache, Role, StoredKey, read_stored_key
from recovery.api import context as context_module
from recovery.api.context import AppContext
from recovery.db.engine import Database
from tests.conftest import KeyMaker
from tests.recovery.api.apps import Ticks, client_with

RITA = StoredKey(key_hash="00" * 32, subject="rita", role=Role.REVIEWER, revoked=False)


def test_a_remembered_key_lapses_after_its_seconds_and_forget_drops_it_at_once() -> None:
    ticks = Ticks()
    cache = KeyCache(5.0, ticks)
    cache.put("abc", RITA)
    ticks.advance(4.9)
    assert cache.get("abc") == RITA
    ticks.advance(0.1)
    assert cache.get("abc") is None, "read again once its seconds have passed"
    cache.put("abc", RITA)
    cache.forget("abc")
    assert cache.get("abc") is None


def test_zero_seconds_remembers_nothing_and_a_full_cache_makes_room() -> None:
    ticks = Ticks()
    off = KeyCache(0, ticks)
    off.put("abc", RITA)
    assert off.get("abc") is None
    small = KeyCache(5.0, ticks, max_entries=2)
    small.put("a", RITA)
    small.put("b", RITA)
    small.put("c", RITA)
    assert small.get("c") == RITA, "the newest key is always kept"


def count_key_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every read of a stored key the app makes (on asyncpg a bare prepared statement,
    which no SQLAlchemy event sees), by key id, as it runs."""
    reads: list[str] = []

    async def counted(database: Database, prefix: str) -> StoredKey | None:
        reads.append(prefix)
        return await read_stored_key(database, prefix)

    monkeypatch.setattr(context_module, "read_stored_key", counted)
    return reads


def test_many_requests_with_one_key_read_it_once_while_it_is_remembered(
    context: AppContext, auth: KeyMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticks = Ticks()
    carol = auth("carol")
    with client_with(context, ticks, auth_cache_seconds=5) as client:
        reads = count_key_reads(monkeypatch)
        for _ in range(5):
            assert client.get("/v1/appeals", headers=carol).status_code == 200
        assert len(reads) == 1, reads
        ticks.advance(5)
        assert client.get("/v1/appeals", headers=carol).status_code == 200
        assert len(reads) == 2, reads


def test_a_key_revoked_in_one_process_stops_there_at_once_and_in_another_within_the_ttl(
    context: AppContext, auth: KeyMaker
) -> None:
    admin = auth("ops", Role.ADMIN)
    ticks = Ticks()
    with (
        client_with(context, ticks, auth_cache_seconds=5) as here,
        client_with(context, ticks, auth_cache_seconds=5) as elsewhere,
    ):
        created = here.post(
            "/v1/admin/keys", json={"role": "user", "subject": "carol"}, headers=admin
        ).json()
        carol = {"Authorization": f"Bearer {created['key']}"}
        assert here.get("/v1/appeals", headers=carol).status_code == 200
        assert elsewhere.get("/v1/appeals", headers=carol).status_code == 200

        revoked = here.post(f"/v1/admin/keys/{created['id']}/revoke", headers=admin)
        assert revoked.status_code == 200, revoked.text

        refused = here.get("/v1/appeals", headers=carol)
        assert refused.status_code == 401
        assert "revoked" in refused.json()["detail"]
        assert elsewhere.get("/v1/appeals", headers=carol).status_code == 200, (
            "another process still remembers the key until its seconds pass"
        )
        ticks.advance(5)
        assert elsewhere.get("/v1/appeals", headers=carol).status_code == 401


def test_with_the_cache_off_a_revocation_elsewhere_stops_the_key_on_the_next_request(
    context: AppContext, auth: KeyMaker
) -> None:
    admin = auth("ops", Role.ADMIN)
    with (
        client_with(context, auth_cache_seconds=0) as here,
        client_with(context, auth_cache_seconds=0) as elsewhere,
    ):
        created = here.post(
            "/v1/admin/keys", json={"role": "user", "subject": "carol"}, headers=admin
        ).json()
        carol = {"Authorization": f"Bearer {created['key']}"}
        assert elsewhere.get("/v1/appeals", headers=carol).status_code == 200
        assert here.post(f"/v1/admin/keys/{created['id']}/revoke", headers=admin).is_success
        assert elsewhere.get("/v1/appeals", headers=carol).status_code == 401


def test_an_unknown_key_is_not_remembered_so_a_key_made_later_works_at_once(
    client: TestClient, context: AppContext, auth: KeyMaker
) -> None:
    missing = {"Authorization": "Bearer rk_nosuchkey_secret"}
    assert client.get("/v1/appeals", headers=missing).status_code == 401
    assert context.keys.get("nosuchkey") is None
    fresh = auth("dave")
    assert client.get("/v1/appeals", headers=fresh).status_code == 200
