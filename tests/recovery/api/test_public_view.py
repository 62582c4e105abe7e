"""Reading a case and a page of cases take a fast path (`public_view` over the public
columns, on the raw driver on PostgreSQL): what they show must be exactly what
`AppealPublic.of` shows of the same case, whatever the case holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update

from recovery.access.keys import Role
from recovery.api.context import AppContext
from recovery.appeals.repository import CaseReads
from recovery.appeals.schemas import AppealPublic
from recovery.db.tables import CaseRow
from tests.recovery.api.builders import appeal_body

UINT256_MAX = 2**256 - 1


def _file(client: TestClient, headers: dict[str, str], **body: Any) -> str:
    answer = client.post("/v1/appeals", json=appeal_body(**body), headers=headers)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _set(context: AppContext, case_id: str, **values: Any) -> None:
    with context.database.unit_of_work() as session:
        session.execute(update(CaseRow).where(CaseRow.id == case_id).values(**values))  # type: ignore[arg-type]


def _expected(context: AppContext, case_id: str) -> dict[str, Any]:
    with context.database.unit_of_work() as session:
        case = CaseReads(session).get(case_id)
    assert case is not None
    return AppealPublic.of(case).model_dump(mode="json")


def test_a_case_and_a_page_show_what_the_model_shows(
    client: TestClient, context: AppContext, alice: dict[str, str]
) -> None:
    bare = _file(client, alice, tx_hash="0x" + "01" * 32)
    quoted = _file(client, alice, tx_hash="0x" + "02" * 32, claimed_amount="1000000000000000000")
    token = "0x" + "da" * 20
    full = _file(
        client,
        alice,
        tx_hash="0x" + "03" * 32,
        case_type="unlisted_token",
        network="ethereum",
        opened_for=None,
        token=token,
        claimed_amount=str(UINT256_MAX),
        log_indexes=[0, 7],
    )
    later = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    _set(
        context,
        full,
        facts={
            "amount": str(UINT256_MAX),
            "raw": UINT256_MAX,  # an integer past 2^64 stays an integer
            "ratio": 0.125,
            "sender": "0x" + "aa" * 20,
            "payout": {"delivered_amount": "999", "tx_hash": "0x" + "bb" * 32},
            "text": 'caf\u00e9 \u2713 "quoted" \\ back',
        },
        check_note="node lagging",
        proven_by="0x" + "cc" * 20,
        question="Which wallet sent it?",
        answer="My own; the note says \u4f60\u597d",
        deadline_at=later,
        updated_at=later + timedelta(seconds=1),
    )
    for case_id in (bare, quoted, full):
        got = client.get(f"/v1/appeals/{case_id}", headers=alice)
        assert got.status_code == 200, got.text
        assert got.json() == _expected(context, case_id)

    page = client.get("/v1/appeals", params={"limit": 2}, headers=alice).json()
    assert page["items"] == [_expected(context, full), _expected(context, quoted)]
    rest = client.get(
        "/v1/appeals", params={"limit": 2, "cursor": page["next_cursor"]}, headers=alice
    ).json()
    assert rest == {"items": [_expected(context, bare)], "next_cursor": None}

    # An empty stored verdict is no verdict, to both.
    _set(context, bare, verdict={})
    assert client.get(f"/v1/appeals/{bare}", headers=alice).json() == _expected(context, bare)
    assert _expected(context, bare)["verdict"] is None

    shown = _expected(context, full)
    assert shown["claimed_amount"] == str(UINT256_MAX)
    assert shown["delivered_amount"] == "999"
    assert shown["log_indexes"] == [0, 7]
    assert shown["facts"]["raw"] == UINT256_MAX
    assert shown["ownership_proven"] is True
    assert _expected(context, quoted)["verdict"]["quote"] is not None
    assert _expected(context, bare)["verdict"] is None


def test_someone_elses_case_is_not_found_on_the_fast_path(
    client: TestClient, alice: dict[str, str], bob: dict[str, str], auth: Any
) -> None:
    case_id = _file(client, alice)
    answer = client.get(f"/v1/appeals/{case_id}", headers=bob)
    assert answer.status_code == 404
    assert answer.json()["error"] == "CaseNotFound"
    assert client.get("/v1/appeals", headers=bob).json() == {"items": [], "next_cursor": None}
    reviewer = auth("rita", Role.REVIEWER)
    assert client.get(f"/v1/appeals/{case_id}", headers=reviewer).json()["id"] == case_id
