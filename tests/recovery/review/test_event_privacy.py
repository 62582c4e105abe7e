"""The claimant reads what happened to their case; who on the desk did it stays with staff."""

from __future__ import annotations

import json

from tests.recovery.review.conftest import Desk


def test_the_claimant_reads_the_question_and_their_answer_but_never_the_reviewers_name(
    desk: Desk,
) -> None:
    case = desk.accept(desk.quoted_case())
    asked = desk.client.post(
        f"/v1/review/{case['id']}/request-info",
        json={"question": "Which wallet sent it?"},
        headers=desk.rita,
    )
    assert asked.status_code == 200, asked.text
    events = desk.events(case)
    assert events[-1]["detail"] == "Which wallet sent it?"
    assert events[-1]["actor"] == "reviewer"
    answered = desk.client.post(
        f"/v1/appeals/{case['id']}/info", json={"answer": "My own wallet"}, headers=desk.alice
    )
    assert answered.status_code == 200, answered.text

    seen = json.dumps(desk.events(case))
    assert "rita" not in seen
    assert "rob" not in seen
    assert all(e["staff"] is None for e in desk.events(case))
    assert desk.events(case)[-1]["actor"] == "user:alice"
    assert desk.events(case)[-1]["detail"] == "My own wallet"

    statuses = [e["to_status"] for e in desk.events(case)]
    question = desk.staff_notes(case)[statuses.index("needs_info")]
    assert question == {"actor": "reviewer:rita", "detail": "Which wallet sent it?"}


def test_an_approval_reads_as_plain_words_to_the_claimant_and_in_full_to_staff(
    desk: Desk,
) -> None:
    case = desk.accept(desk.quoted_case())
    approved = desk.client.post(f"/v1/review/{case['id']}/approve", headers=desk.rita)
    assert approved.status_code == 200, approved.text
    last = desk.events(case)[-1]
    assert last["to_status"] in {"approved", "in_review"}
    assert "rita" not in json.dumps(last)
    assert last["actor"] == "reviewer"
    assert last["detail"] in {
        "Your case was approved; the refund is being prepared.",
        "The appeals team is reviewing your case.",
    }
    staff = desk.staff_notes(case)[-1]
    assert staff["actor"] == "reviewer:rita"
    assert staff["detail"] != last["detail"]
