"""Cases routed to desk queues when quoted, ordered by priority, escalated past target."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from recovery.access.keys import Role
from recovery.api.context import AppContext
from recovery.db.tables import CaseRow
from recovery.review.routing import escalate_cycle
from tests.recovery.review.conftest import Desk


def _queue(desk: Desk, **query: Any) -> list[dict[str, Any]]:
    response = desk.client.get("/v1/review/queue", params=query, headers=desk.rita)
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


def test_a_quoted_case_is_routed_and_the_desk_orders_by_priority(desk: Desk) -> None:
    small = desk.quoted_case(wei=10**18)  # about 600 USD
    large = desk.quoted_case(wei=20 * 10**18)  # about 12,000 USD
    assert (small["queue"], large["queue"]) == ("standard_evm", "high_value")
    quoted = [e for e in desk.staff_notes(large) if "quote" in e["detail"]]
    assert "queue high_value (High value; rule 3 (min_value=10000))" in quoted[-1]["detail"]
    for case in (small, large):
        desk.accept(case)

    assert [c["id"] for c in _queue(desk, queue="high_value")] == [large["id"]]
    assert [c["id"] for c in _queue(desk, sort="priority")] == [large["id"], small["id"]]
    first = desk.client.get(
        "/v1/review/queue", params={"sort": "priority", "limit": 1}, headers=desk.rita
    ).json()
    rest = _queue(desk, sort="age", cursor=first["next_cursor"], limit=1)
    assert [c["id"] for c in rest] == [small["id"]]  # the cursor keeps its own order
    board = desk.client.get("/v1/review/queues", headers=desk.rita).json()["items"]
    waiting = {q["id"]: q["waiting"] for q in board}
    assert (waiting["standard_evm"], waiting["high_value"], waiting["senior"]) == (1, 1, 0)
    assert desk.client.get("/v1/review/queues", headers=desk.alice).status_code == 403


def test_a_case_past_its_queue_target_escalates_once(desk: Desk, context: AppContext) -> None:
    case = desk.accept(desk.quoted_case(wei=10**18))
    clock = desk.clock
    clock.advance(seconds=239 * 60)
    assert escalate_cycle(context.database, context.policy, clock) == 0

    clock.advance(seconds=2 * 60)
    assert escalate_cycle(context.database, context.policy, clock) == 1
    assert escalate_cycle(context.database, context.policy, clock) == 0

    seen = desk.read(case)
    assert (seen["status"], seen["queue"]) == ("in_review", "senior")
    last = desk.staff_notes(case)[-1]
    assert "against a target of 240 min; moved to queue senior" in last["detail"]
    assert desk.events(case)[-1]["reason_code"] == "escalated"
    board = {
        q["id"]: q for q in desk.client.get("/v1/review/queues", headers=desk.rita).json()["items"]
    }
    assert (board["senior"]["waiting"], board["senior"]["breaches"]) == (1, 1)
    metrics = desk.client.get("/metrics").text
    assert 'recovery_desk_waiting{queue="senior"} 1.0' in metrics
    assert 'recovery_desk_breaches{queue="senior"} 1.0' in metrics


def test_a_case_in_review_from_before_routing_is_routed_at_the_next_look(
    desk: Desk, context: AppContext
) -> None:
    case = desk.accept(desk.quoted_case(wei=10**18))
    with context.database.unit_of_work() as session:
        session.execute(update(CaseRow).values(queue=None))
    assert desk.read(case)["queue"] is None

    escalate_cycle(context.database, context.policy, desk.clock)

    assert desk.read(case)["queue"] == "standard_evm"


def test_a_reviewer_who_belongs_to_queues_sees_those(desk: Desk, auth: Any) -> None:
    small = desk.accept(desk.quoted_case(wei=10**18))
    large = desk.accept(desk.quoted_case(wei=20 * 10**18))
    admin = auth("ops-q", Role.ADMIN)
    path = "/v1/admin/reviewers/rita/queues"
    response = desk.client.put(path, json={"queues": ["high_value"]}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json() == {"subject": "rita", "queues": ["high_value"]}
    assert desk.client.get(path, headers=admin).json()["queues"] == ["high_value"]

    assert [c["id"] for c in _queue(desk)] == [large["id"]]
    assert [c["id"] for c in _queue(desk, all_queues="true")] == [small["id"], large["id"]]
    rob = desk.client.get("/v1/review/queue", headers=desk.rob).json()["items"]
    assert [c["id"] for c in rob] == [small["id"], large["id"]]  # rob belongs to none

    unknown = desk.client.put(path, json={"queues": ["nowhere"]}, headers=admin)
    assert unknown.status_code == 422
    assert "nowhere" in unknown.json()["detail"]
    assert desk.client.put(path, json={"queues": []}, headers=desk.rita).status_code == 403
    nobody = desk.client.put(
        "/v1/admin/reviewers/nobody/queues", json={"queues": ["senior"]}, headers=admin
    )
    assert nobody.status_code == 404
    assert "create a reviewer key" in nobody.json()["detail"]
    cleared = desk.client.put(path, json={"queues": []}, headers=admin)
    assert cleared.json()["queues"] == []
    assert len(_queue(desk)) == 2
