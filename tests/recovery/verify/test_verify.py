"""Anyone can check a case is real: its reference and verification code, nothing more."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from recovery.access.keys import Role
from recovery.api.app import create_app
from recovery.api.context import AppContext
from recovery.settings import Settings
from tests.recovery.api.builders import DEPOSIT, appeal_body


def _filed(client: TestClient, auth: Any) -> tuple[dict[str, Any], dict[str, str]]:
    registered = client.post(
        "/v1/deposit-addresses",
        json={"address": DEPOSIT, "owner": "alice", "networks": ["ethereum"]},
        headers=auth("ops", Role.ADMIN),
    )
    assert registered.status_code == 201, registered.text
    alice = auth("alice")
    filed = client.post("/v1/appeals", json=appeal_body(), headers=alice)
    assert filed.status_code == 201, filed.text
    return filed.json(), alice


def test_a_real_reference_with_its_code_shows_the_state_and_nothing_else(
    context: AppContext, auth: Any
) -> None:
    with TestClient(create_app(context)) as client:
        case, alice = _filed(client, auth)
        mine = client.get(f"/v1/appeals/{case['id']}/verification-code", headers=alice)
        assert mine.status_code == 200, mine.text
        code = mine.json()["verification_code"]
        assert len(code) == 10
        reference = case["reference"]
        genuine = client.get(f"/v1/verify/{reference}", params={"code": code.lower()})
        wrong = client.get(f"/v1/verify/{reference}", params={"code": "ZZZZZZZZZZ"})
        unknown = client.get("/v1/verify/RC-999999", params={"code": code})
        garbage = client.get(f"/v1/verify/{reference}", params={"code": "x" * 24})
        malformed = client.get("/v1/verify/%2e%2e", params={"code": code})
        others = client.get(f"/v1/appeals/{case['id']}/verification-code", headers=auth("mallory"))
        staff = client.get(
            f"/v1/appeals/{case['id']}/verification-code", headers=auth("rita", Role.REVIEWER)
        )
    assert genuine.json() == {
        "reference": reference,
        "genuine": True,
        "state": "submitted",
        "words": "Your appeal was received.",
    }
    # A wrong code and an unknown reference: the same answer (but for the reference asked).
    for refused in (wrong, unknown, garbage):
        assert refused.status_code == 200
        body = refused.json()
        body.pop("reference")
        assert body == {"genuine": False, "state": None, "words": None}
    # A reference that cannot be one (its form is public) is a 422 that says the form.
    assert malformed.status_code == 422
    assert "RC-" in malformed.json()["detail"]
    assert others.status_code == 404
    assert staff.status_code == 403


def test_the_verify_page_answers_and_says_what_we_never_ask_for(
    context: AppContext, auth: Any
) -> None:
    with TestClient(create_app(context)) as client:
        case, alice = _filed(client, auth)
        code = client.get(f"/v1/appeals/{case['id']}/verification-code", headers=alice).json()[
            "verification_code"
        ]
        empty = client.get("/verify")
        real = client.get("/verify", params={"reference": case["reference"], "code": code})
        fake = client.get("/verify", params={"reference": case["reference"], "code": "AAAAAAAAAA"})
    assert empty.status_code == 200
    assert "seed phrase" in empty.text
    assert "is a real case of this service" in real.text
    assert "they are not from us" in fake.text
    assert "is a real case" not in fake.text


def test_verification_is_rate_limited_per_client(context: AppContext) -> None:
    settings = Settings(database_url=str(context.database.engine.url), rate_limit_unauthenticated=3)
    limited = AppContext(
        settings=settings, database=context.database, policy=context.policy, clock=context.clock
    )
    with TestClient(create_app(limited)) as client:
        answers = [
            client.get("/v1/verify/RC-000001", params={"code": "AAAAAAAAAA"}).status_code
            for _ in range(6)
        ]
    assert answers[:3] == [200, 200, 200]
    assert 429 in answers[3:]
