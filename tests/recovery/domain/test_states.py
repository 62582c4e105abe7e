"""The transition table: every allowed move works, every other move is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from recovery.domain.case import Case, CaseType
from recovery.domain.errors import InvalidTransition
from recovery.domain.states import CANCELLABLE_STATES, TRANSITIONS, CaseStatus

AT = datetime(2026, 11, 23, tzinfo=UTC)
PAIRS = [(a, b) for a in CaseStatus for b in CaseStatus]
ALLOWED = [(a, b) for a, b in PAIRS if b in TRANSITIONS[a]]
REFUSED = [(a, b) for a, b in PAIRS if b not in TRANSITIONS[a]]


def make_case(status: CaseStatus = CaseStatus.SUBMITTED, **overrides: object) -> Case:
    values: dict[str, object] = {
        "id": "c-1",
        "number": 7,
        "claimant": "alice",
        "case_type": CaseType.WRONG_NETWORK,
        "network": "bsc",
        "opened_for": "ethereum",
        "tx_hash": "0x" + "ab" * 32,
        "token": "native",
        "deposit_address": "0x" + "11" * 20,
        "refund_address": "0x" + "22" * 20,
        "claimed_amount": None,
        "status": status,
        "created_at": AT,
        "updated_at": AT,
    }
    values.update(overrides)
    return Case(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(("source", "target"), ALLOWED, ids=lambda s: str(s))
def test_allowed_transition_moves_and_records_an_event(
    source: CaseStatus, target: CaseStatus
) -> None:
    case = make_case(source)
    event = case.transition(target, actor="system", at=AT, reason_code="x", detail="why")
    assert case.status == target
    assert (event.from_status, event.to_status, event.seq) == (source, target, 1)
    assert case.pending_events == [event]


@pytest.mark.parametrize(("source", "target"), REFUSED, ids=lambda s: str(s))
def test_refused_transition_names_the_current_state(source: CaseStatus, target: CaseStatus) -> None:
    case = make_case(source)
    with pytest.raises(InvalidTransition, match=f"RC-000007 is {source.value}") as refused:
        case.transition(target, actor="system", at=AT)
    assert refused.value.status_code == 409
    assert case.status == source
    assert case.pending_events == []


def test_the_happy_path_is_in_the_table() -> None:
    path = [
        CaseStatus.SUBMITTED,
        CaseStatus.VERIFYING,
        CaseStatus.CONFIRMING,
        CaseStatus.QUOTED,
        CaseStatus.IN_REVIEW,
        CaseStatus.APPROVED,
        CaseStatus.PAYOUT_PENDING,
        CaseStatus.PAYOUT_SENT,
        CaseStatus.PAID,
    ]
    case = make_case(path[0])
    for target in path[1:]:
        case.transition(target, actor="system", at=AT)
    assert [e.seq for e in case.pending_events] == list(range(1, len(path)))


def test_cancel_is_possible_only_before_approval() -> None:
    after_approval = {
        CaseStatus.APPROVED,
        CaseStatus.ON_HOLD,
        CaseStatus.PAYOUT_PENDING,
        CaseStatus.PAYOUT_SENT,
        CaseStatus.PAID,
        CaseStatus.PAYOUT_FAILED,
        CaseStatus.QUARANTINED,
        CaseStatus.REJECTED,
        CaseStatus.CANCELLED,
    }
    assert set(CaseStatus) - after_approval == CANCELLABLE_STATES


def test_final_states_refuse_everything() -> None:
    for final in (CaseStatus.REJECTED, CaseStatus.CANCELLED):
        case = make_case(final)
        with pytest.raises(InvalidTransition, match="none \\(final state\\)"):
            case.transition(CaseStatus.VERIFYING, actor="system", at=AT)


def test_a_paid_case_only_goes_back_to_tracking_when_its_payout_is_reorged_out() -> None:
    case = make_case(CaseStatus.PAID)
    with pytest.raises(InvalidTransition, match="allowed from paid: payout_sent"):
        case.transition(CaseStatus.PAYOUT_PENDING, actor="system", at=AT)
    case.transition(CaseStatus.PAYOUT_SENT, actor="system", at=AT, reason_code="payout_reorged")
    assert case.status == CaseStatus.PAYOUT_SENT
