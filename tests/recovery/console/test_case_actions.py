"""The console's case forms without a browser (no JavaScript): each calls the review
service and shows its outcome or its refusal on the page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from recovery.access.keys import Role
from recovery.api.app import create_app
from recovery.api.context import AppContext
from tests.recovery.console.test_sessions import _csrf, _key
from tests.recovery.review.conftest import Desk


def console(context: AppContext, key: str) -> TestClient:
    client = TestClient(create_app(context), follow_redirects=True)
    page = client.get("/console/sign-in")
    signed = client.post("/console/sign-in", data={"csrf": _csrf(page.text), "api_key": key})
    assert signed.status_code == 200
    return client


@pytest.fixture
def in_review(desk: Desk) -> dict[str, Any]:
    case = desk.quoted_case()
    return desk.accept(case)


def test_claim_release_and_reject_with_a_reason_the_user_reads(
    desk: Desk, context: AppContext, auth: Any, in_review: dict[str, Any]
) -> None:
    rita = console(context, _key(auth("rita-f", Role.REVIEWER)))
    rob = console(context, _key(auth("rob-f", Role.REVIEWER)))
    url = f"/console/cases/{in_review['id']}"
    page = rita.get(url)
    claimed = rita.post(f"{url}/claim", data={"csrf": _csrf(page.text)})
    assert "You hold this case now." in claimed.text
    assert re.search(r"Held by</dt><dd>rita-f", claimed.text)
    taken = rob.post(f"{url}/claim", data={"csrf": _csrf(rob.get(url).text)})
    assert taken.status_code == 409
    assert "being reviewed by rita-f" in taken.text
    released = rita.post(f"{url}/release", data={"csrf": _csrf(page.text)})
    assert "You released this case." in released.text
    rejected = rob.post(
        f"{url}/reject",
        data={
            "csrf": _csrf(rob.get(url).text),
            "reason_code": "reviewer_rejected",
            "note": "the sender is on a sanctions list",
        },
    )
    assert "The case is rejected." in rejected.text
    seen = desk.read(in_review)
    assert seen["status"] == "rejected"
    assert desk.events(in_review)[-1]["detail"] == "the sender is on a sanctions list"


def test_an_unknown_reason_code_and_an_empty_question_are_refused_on_the_page(
    desk: Desk, context: AppContext, auth: Any, in_review: dict[str, Any]
) -> None:
    rita = console(context, _key(auth("rita-g", Role.REVIEWER)))
    url = f"/console/cases/{in_review['id']}"
    csrf = _csrf(rita.get(url).text)
    bad = rita.post(f"{url}/reject", data={"csrf": csrf, "reason_code": "because"})
    assert bad.status_code == 422
    assert "is not a rejection code" in bad.text
    empty = rita.post(f"{url}/request-info", data={"csrf": csrf, "question": "  "})
    assert empty.status_code == 422
    assert "Write the question" in empty.text
    assert desk.read(in_review)["status"] == "in_review"
    asked = rita.post(f"{url}/request-info", data={"csrf": csrf, "question": "Which wallet?"})
    assert "The question is sent to the user." in asked.text
    assert desk.read(in_review)["status"] == "needs_info"


def test_a_reviewer_cannot_see_payouts_and_an_unknown_case_is_a_message(
    context: AppContext, auth: Any
) -> None:
    rita = console(context, _key(auth("rita-h", Role.REVIEWER)))
    payouts = rita.get("/console/payouts")
    assert payouts.status_code == 403
    assert "needs the admin role" in payouts.text
    missing = rita.get("/console/cases/no-such-case")
    assert missing.status_code == 404
    assert "no case no-such-case" in missing.text
