"""Every case state change is logged once, with the case's reference, when it is committed.

`note` is called where events are written (`repository.write_events`); the log lines go
out after the transaction commits, so a rolled-back change (a lost optimistic lock, a
savepoint given up) never shows in the logs as if it had happened.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from recovery.domain.case import Case

log = logging.getLogger("recovery.cases")
_PENDING = "recovery.case_transitions"


def _fields(cases: Sequence[Case]) -> Iterator[dict[str, Any]]:
    for case in cases:
        for change in case.pending_events:
            yield {
                "event": "case_transition",
                "case": case.reference,
                "case_id": case.id,
                "network": case.network,
                "from_status": change.from_status.value if change.from_status else None,
                "to_status": change.to_status.value,
                "actor": change.actor,
                "reason_code": change.reason_code,
                "detail": change.detail,
            }


def note(session: Session, cases: Sequence[Case]) -> None:
    """Remember the pending events of `cases`, to be logged when `session` commits."""
    if not log.isEnabledFor(logging.INFO):
        return
    where = session.get_nested_transaction() or session.get_transaction()
    pending: list[tuple[SessionTransaction | None, dict[str, Any]]]
    pending = session.info.setdefault(_PENDING, [])
    pending.extend((where, fields) for fields in _fields(cases))


def committed(cases: Sequence[Case]) -> None:
    """Log the pending events of `cases` now: a write outside a session committed them."""
    if log.isEnabledFor(logging.INFO):
        for fields in _fields(cases):
            _log(fields)


def _log(fields: dict[str, Any]) -> None:
    log.info(
        "case %s: %s -> %s by %s%s",
        fields["case"],
        fields["from_status"] or "(new)",
        fields["to_status"],
        fields["actor"],
        f" ({fields['reason_code']})" if fields["reason_code"] else "",
        extra=fields,
    )


@event.listens_for(Session, "after_commit")
def _log_committed(session: Session) -> None:
    for _, fields in session.info.pop(_PENDING, []):
        _log(fields)


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    pending = session.info.get(_PENDING)
    if pending:
        pending[:] = [(t, f) for t, f in pending if not _within(t, previous_transaction)]


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False
