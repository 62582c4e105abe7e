"""Admins create, list and revoke API keys over the API; a key is shown once, kept hashed."""

from __future__ import annotations

import base64
import hashlib

from fastapi.testclient import TestClient
from sqlalchemy import select

from recovery.access.keys import Role
from recovery.api.context import AppContext
from recovery.db.tables import ApiKeyRow
from tests.conftest import KeyMaker


def test_a_created_key_works_is_shown_once_and_stored_only_as_its_hash(
    client: TestClient, auth: KeyMaker, context: AppContext
) -> None:
    admin = auth("ops", Role.ADMIN)

    created = client.post(
        "/v1/admin/keys", json={"role": "reviewer", "subject": "rita"}, headers=admin
    )

    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["role"], body["subject"], body["revoked_at"]) == ("reviewer", "rita", None)
    key = body["key"]
    assert key.startswith(f"rk_{body['id']}_")
    queue = client.get("/v1/review/queue", headers={"Authorization": f"Bearer {key}"})
    assert queue.status_code == 200, queue.text
    with context.database.unit_of_work() as session:
        row = session.scalars(select(ApiKeyRow).where(ApiKeyRow.prefix == body["id"])).one()
        assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    listed = client.get("/v1/admin/keys", params={"subject": "rita"}, headers=admin).json()
    assert [k["id"] for k in listed["items"]] == [body["id"]]
    assert "key" not in listed["items"][0]


def test_a_revoked_key_is_refused_at_once_and_revoking_again_keeps_the_first_time(
    client: TestClient, auth: KeyMaker, context: AppContext
) -> None:
    admin = auth("ops", Role.ADMIN)
    body = client.post(
        "/v1/admin/keys", json={"role": "user", "subject": "carol"}, headers=admin
    ).json()
    carol = {"Authorization": f"Bearer {body['key']}"}
    assert client.get("/v1/appeals", headers=carol).status_code == 200

    revoked = client.post(f"/v1/admin/keys/{body['id']}/revoke", headers=admin)

    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    refused = client.get("/v1/appeals", headers=carol)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]
    again = client.post(f"/v1/admin/keys/{body['id']}/revoke", headers=admin)
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]


def test_keys_page_newest_first_and_filter_by_role(client: TestClient, auth: KeyMaker) -> None:
    admin = auth("ops", Role.ADMIN)
    for i in range(5):
        response = client.post(
            "/v1/admin/keys", json={"role": "user", "subject": f"user{i}"}, headers=admin
        )
        assert response.status_code == 201

    first = client.get("/v1/admin/keys", params={"role": "user", "limit": 3}, headers=admin).json()
    rest = client.get(
        "/v1/admin/keys",
        params={"role": "user", "limit": 3, "cursor": first["next_cursor"]},
        headers=admin,
    ).json()

    subjects = [k["subject"] for k in first["items"] + rest["items"]]
    assert subjects == ["user4", "user3", "user2", "user1", "user0"]
    assert rest["next_cursor"] is None
    admins = client.get("/v1/admin/keys", params={"role": "admin"}, headers=admin).json()
    assert [k["subject"] for k in admins["items"]] == ["ops"]


def test_only_admins_manage_keys(client: TestClient, auth: KeyMaker) -> None:
    reviewer = auth("rita", Role.REVIEWER)
    user = auth("alice")

    for headers in (reviewer, user):
        made = client.post(
            "/v1/admin/keys", json={"role": "admin", "subject": "me"}, headers=headers
        )
        assert made.status_code == 403
        assert "admin role" in made.json()["detail"]
        assert client.get("/v1/admin/keys", headers=headers).status_code == 403
    assert client.get("/v1/admin/keys").status_code == 401


def test_bad_key_requests_get_a_clear_4xx(client: TestClient, auth: KeyMaker) -> None:
    admin = auth("ops", Role.ADMIN)
    huge = base64.urlsafe_b64encode(b"k:" + b"9" * 30).decode().rstrip("=")

    cases = [
        client.post("/v1/admin/keys", json={"role": "root", "subject": "x"}, headers=admin),
        client.post("/v1/admin/keys", json={"role": "user", "subject": "  "}, headers=admin),
        client.post(
            "/v1/admin/keys", json={"role": "user", "subject": "x", "extra": 1}, headers=admin
        ),
        client.get("/v1/admin/keys", params={"cursor": "not-a-cursor"}, headers=admin),
        client.get("/v1/admin/keys", params={"cursor": huge}, headers=admin),
        client.get("/v1/admin/keys", params={"limit": 0}, headers=admin),
        client.post("/v1/admin/keys/nosuchkey/revoke", headers=admin),
    ]

    assert [r.status_code for r in cases] == [422, 422, 422, 422, 422, 422, 404]
    assert "cursor" in cases[3].json()["detail"]
    assert "nosuchkey" in cases[6].json()["detail"]
