"""Every query about cases and their events."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    Select,
    Text,
    and_,
    bindparam,
    cast,
    false,
    func,
    inspect,
    literal_column,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy import case as when
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col

from recovery.appeals import transition_log
from recovery.appeals.claimed_transfers import holder_of, sync_claims
from recovery.appeals.errors import DuplicateClaim
from recovery.appeals.filings import INSERT_CASE, INSERT_EVENT, case_values
from recovery.db.engine import Database
from recovery.db.tables import CaseEventRow, CaseRow, IdempotencyKeyRow
from recovery.domain.case import Case, CaseEvent, CaseType
from recovery.domain.errors import StaleCase
from recovery.domain.states import RELEASED_STATES, CaseStatus

# The columns a case write may change (the rest is fixed at filing).
MUTABLE_FIELDS = (
    "status",
    "facts",
    "verdict",
    "policy_version",
    "log_index",
    "log_indexes",
    "updated_at",
    "refund_address",
    "check_note",
    "quote_id",
    "deadline_at",
    "proof_nonce",
    "proven_by",
    "reviewer",
    "review_claimed_at",
    "approvals",
    "question",
    "answer",
    "value_micros",
    "queue",
    "priority",
    "queued_at",
    "escalated_at",
)


def event_values(event: CaseEvent) -> dict[str, object]:
    """The column values of an event row."""
    return {
        "case_id": event.case_id,
        "seq": event.seq,
        "from_status": event.from_status.value if event.from_status else None,
        "to_status": event.to_status.value,
        "actor": event.actor,
        "reason_code": event.reason_code,
        "detail": event.detail,
        "message": event.message,
        "created_at": event.created_at,
    }


def write_events(session: Session, cases: Sequence[Case]) -> None:
    """Insert the pending events of `cases` (left pending) and log them once committed.

    The one place case events are written, so every state change is also logged.
    """
    events = [event_values(e) for case in cases for e in case.pending_events]
    if events:
        session.connection().execute(INSERT_EVENT, events)
        transition_log.note(session, cases)


# Reads select the table's columns, not the mapped class: plain rows, no ORM objects to
# build and track (a page of 50 cases costs a third less that way).
CASE_COLUMNS = select(inspect(CaseRow).local_table)


_BY_ID = CASE_COLUMNS.where(col(CaseRow.id) == bindparam("case_id"))

# What the public view of a case (`public_view`) reads, the JSON columns as their
# text: pydantic parses and validates a verdict's text in one pass, in less time than
# json.loads alone takes to decode it (and the view reads no column it does not show).
PUBLIC_KEYS = (
    "id",
    "number",
    "claimant",
    "status",
    "case_type",
    "network",
    "opened_for",
    "tx_hash",
    "token",
    "deposit_address",
    "refund_address",
    "claimed_amount",
    "named_log_indexes",
    "facts",
    "verdict",
    "policy_version",
    "check_note",
    "proven_by",
    "question",
    "answer",
    "deadline_at",
    "queue",
    "priority",
    "version",
    "created_at",
    "updated_at",
)
# As text: the JSON columns (parsed with the verdict's validation), and the amount (an
# asyncpg numeric is a Decimal that prints in E-notation).
_AS_TEXT = {"claimed_amount", "named_log_indexes", "facts", "verdict"}
_CASES = inspect(CaseRow).local_table
PUBLIC_COLUMNS: Select[Any] = select(
    *(
        cast(_CASES.c[key], Text).label(key) if key in _AS_TEXT else _CASES.c[key]
        for key in PUBLIC_KEYS
    )
)
_PUBLIC_BY_ID = PUBLIC_COLUMNS.where(col(CaseRow.id) == bindparam("case_id"))
# The other live cases on one token to one deposit address in one transaction.
_LIVE_ON_TRANSACTION = CASE_COLUMNS.where(
    col(CaseRow.network) == bindparam("network"),
    col(CaseRow.tx_hash) == bindparam("tx_hash"),
    col(CaseRow.token) == bindparam("token"),
    col(CaseRow.deposit_address) == bindparam("deposit_address"),
    col(CaseRow.status).not_in([s.value for s in RELEASED_STATES]),
    col(CaseRow.id) != bindparam("case_id"),
).order_by(col(CaseRow.number))


@cache
def _page_statement(
    claimant: bool, status: bool, case_type: bool, before_number: bool
) -> Select[Any]:
    """The page query (public columns) for one combination of filters, built once:
    building and keying a statement costs more than running it does."""
    query = PUBLIC_COLUMNS
    if claimant:
        query = query.where(col(CaseRow.claimant) == bindparam("claimant"))
    if status:
        query = query.where(col(CaseRow.status) == bindparam("status"))
    if case_type:
        query = query.where(col(CaseRow.case_type) == bindparam("case_type"))
    if before_number:
        query = query.where(col(CaseRow.number) < bindparam("before_number"))
    return query.order_by(col(CaseRow.number).desc()).limit(bindparam("limit"))


class CaseReads:
    """The hot reads of cases, on a session or a bare connection (`Database.rows`)."""

    def __init__(self, executor: Session | Connection) -> None:
        self.executor = executor

    def get(self, case_id: str) -> Case | None:
        """The case with `case_id`, or None."""
        row = self.executor.execute(_BY_ID, {"case_id": case_id}).one_or_none()
        return _to_case(row) if row else None


@dataclass(frozen=True)
class QueueShape:
    """Which filters a review-queue page has (their values are bound parameters), and its
    order: oldest first, or highest value first."""

    network: bool = False
    case_type: bool = False
    older: bool = False
    min_value: bool = False
    max_value: bool = False
    after: bool = False
    # By recovery class: the networks of that class for wrong_network and unlisted_token
    # cases, written into the statement (policy network ids, `^[a-z][a-z0-9_]*$`): the
    # hot read path prepares statements once and binds no lists.
    classes: tuple[tuple[str, ...], tuple[str, ...]] | None = None
    # "mine": held by `me`; "unclaimed": held by nobody, or a hold that lapsed.
    holder: str | None = None
    by_value: bool = False
    queue: bool = False
    by_priority: bool = False
    # A reviewer's own queues, written into the statement (policy queue ids).
    queues: tuple[str, ...] | None = None


def _network_id(name: str) -> str:
    """A policy id (a network's, a queue's), safe to write into a statement."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ValueError(f"not a policy id: {name!r}")
    return name


def _highest_first(query: Select[Any], key: Any, after: str, paged: bool) -> Select[Any]:
    """`query` ordered by `key` highest first, then case number; `paged`: after the
    (key, number) bound as `after` and `after_number`."""
    if paged:
        query = query.where(
            or_(
                key < bindparam(after),
                and_(key == bindparam(after), col(CaseRow.number) > bindparam("after_number")),
            )
        )
    return query.order_by(key.desc(), col(CaseRow.number)).limit(bindparam("limit"))


@cache
def _queue_statement(shape: QueueShape) -> Select[Any]:
    """The review queue's page (public columns; a keyset walk on (updated_at, number), or
    on (value, number) highest value first) for one shape of filters, built once."""
    query = PUBLIC_COLUMNS.where(col(CaseRow.status) == bindparam("status"))
    if shape.network:
        query = query.where(col(CaseRow.network) == bindparam("network"))
    if shape.queue:
        query = query.where(col(CaseRow.queue) == bindparam("queue"))
    if shape.queues is not None:
        query = query.where(
            col(CaseRow.queue).in_([literal_column(f"'{_network_id(q)}'") for q in shape.queues])
        )
    if shape.case_type:
        query = query.where(col(CaseRow.case_type) == bindparam("case_type"))
    if shape.older:
        query = query.where(col(CaseRow.updated_at) <= bindparam("older_at"))
    valued = func.coalesce(col(CaseRow.value_micros), 0)
    if shape.min_value:
        query = query.where(valued >= bindparam("min_micros"))
    if shape.max_value:
        query = query.where(valued <= bindparam("max_micros"))
    if shape.classes is not None:
        query = query.where(
            or_(
                *(
                    and_(
                        col(CaseRow.case_type) == literal_column(f"'{case_type}'"),
                        col(CaseRow.network).in_(
                            [literal_column(f"'{_network_id(n)}'") for n in networks]
                        ),
                    )
                    for case_type, networks in zip(
                        ("wrong_network", "unlisted_token"), shape.classes, strict=True
                    )
                    if networks
                ),
                false(),
            )
        )
    held = and_(
        col(CaseRow.reviewer).is_not(None), col(CaseRow.review_claimed_at) > bindparam("lapse_at")
    )
    if shape.holder == "mine":
        query = query.where(held, col(CaseRow.reviewer) == bindparam("me"))
    elif shape.holder == "unclaimed":
        query = query.where(not_(held))
    if shape.by_priority:
        return _highest_first(query, col(CaseRow.priority), "after_priority", shape.after)
    if shape.by_value:
        return _highest_first(query, valued, "after_value", shape.after)
    if shape.after:
        query = query.where(
            or_(
                col(CaseRow.updated_at) > bindparam("after_at"),
                and_(
                    col(CaseRow.updated_at) == bindparam("after_at"),
                    col(CaseRow.number) > bindparam("after_number"),
                ),
            )
        )
    return query.order_by(col(CaseRow.updated_at), col(CaseRow.number)).limit(bindparam("limit"))


@dataclass(frozen=True)
class QueueQuery:
    """The values of a review-queue page's filters (None: no such filter)."""

    status: str = "in_review"
    network: str | None = None
    case_type: str | None = None
    older_at: datetime | None = None
    min_micros: int | None = None
    max_micros: int | None = None
    # The networks of the wanted class, per case type.
    class_networks: tuple[tuple[str, ...], tuple[str, ...]] | None = None
    holder: str | None = None
    me: str | None = None
    lapse_at: datetime | None = None
    by_value: bool = False
    queue: str | None = None
    by_priority: bool = False
    queues: tuple[str, ...] | None = None
    # (updated_at, number); (value micros, number) by value; (priority, number) by priority.
    after: tuple[Any, int] | None = None


class PublicCaseReads:
    """The hottest reads, a case and a page of cases in their public columns
    (`PUBLIC_KEYS`), on the database's fastest path (`Database.fetch`)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def _rows(
        self, statement: Select[Any], parameters: dict[str, Any]
    ) -> list[dict[str, Any]]:
        rows = await self.database.fetch(statement, parameters)
        return [dict(zip(PUBLIC_KEYS, row, strict=True)) for row in rows]

    async def one(self, case_id: str) -> dict[str, Any] | None:
        """The public columns of the case with `case_id`, or None."""
        rows = await self._rows(_PUBLIC_BY_ID, {"case_id": case_id})
        return rows[0] if rows else None

    async def page(
        self,
        *,
        claimant: str | None,
        status: str | None,
        case_type: str | None,
        before_number: int | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        """The public columns of cases newest first, optionally only one claimant's, one
        status or one type."""
        filters = {
            "claimant": claimant,
            "status": status,
            "case_type": case_type,
            "before_number": before_number,
        }
        statement = _page_statement(*(value is not None for value in filters.values()))
        parameters = {name: value for name, value in filters.items() if value is not None}
        return await self._rows(statement, {**parameters, "limit": limit})

    async def in_review(self, query: QueueQuery, *, limit: int) -> list[dict[str, Any]]:
        """The public columns of one page of the review queue (`QueueQuery`)."""
        shape = QueueShape(
            network=query.network is not None,
            case_type=query.case_type is not None,
            older=query.older_at is not None,
            min_value=query.min_micros is not None,
            max_value=query.max_micros is not None,
            after=query.after is not None,
            classes=query.class_networks,
            holder=query.holder,
            by_value=query.by_value,
            queue=query.queue is not None,
            by_priority=query.by_priority,
            queues=query.queues,
        )
        parameters: dict[str, Any] = {"status": query.status, "limit": limit}
        for name in ("network", "queue", "case_type", "older_at", "min_micros", "max_micros"):
            if getattr(query, name) is not None:
                parameters[name] = getattr(query, name)
        if query.holder is not None:
            parameters["lapse_at"] = query.lapse_at
            if query.holder == "mine":
                parameters["me"] = query.me
        if query.after is not None:
            key = (
                "after_priority"
                if query.by_priority
                else "after_value"
                if query.by_value
                else "after_at"
            )
            parameters[key], parameters["after_number"] = query.after
        return await self._rows(_queue_statement(shape), parameters)


def queue_counts(session: Session, *, status: str, me: str, lapse_at: datetime) -> dict[str, Any]:
    """How many cases of `status` wait per network, case type, and holder (mine, unclaimed):
    the counts beside each of the queue's filters."""
    held = and_(col(CaseRow.reviewer).is_not(None), col(CaseRow.review_claimed_at) > lapse_at)
    rows = session.execute(
        select(
            col(CaseRow.network),
            col(CaseRow.case_type),
            func.count(),
            func.sum(when((and_(held, col(CaseRow.reviewer) == me), 1), else_=0)),
            func.sum(when((held, 0), else_=1)),
        )
        .where(col(CaseRow.status) == status)
        .group_by(col(CaseRow.network), col(CaseRow.case_type))
    ).all()
    counts: dict[str, Any] = {"network": {}, "case_type": {}, "pairs": {}, "mine": 0}
    counts["unclaimed"] = counts["total"] = 0
    for network, case_type, total, mine, unclaimed in rows:
        counts["network"][network] = counts["network"].get(network, 0) + total
        counts["case_type"][case_type] = counts["case_type"].get(case_type, 0) + total
        counts["pairs"][(network, case_type)] = total
        counts["mine"] += int(mine or 0)
        counts["unclaimed"] += int(unclaimed or 0)
        counts["total"] += total
    return counts


def _to_case(row: Row[Any]) -> Case:
    # The row's values by name through one dict: a Row's attributes cost several times a
    # dict lookup each, and a case has over thirty.
    values = row._asdict()
    return Case(
        id=values["id"],
        number=values["number"],
        claimant=values["claimant"],
        case_type=CaseType(values["case_type"]),
        network=values["network"],
        opened_for=values["opened_for"],
        tx_hash=values["tx_hash"],
        token=values["token"],
        deposit_address=values["deposit_address"],
        refund_address=values["refund_address"],
        claimed_amount=values["claimed_amount"],
        status=CaseStatus(values["status"]),
        version=values["version"],
        last_seq=values["last_seq"],
        facts=values["facts"],
        verdict=values["verdict"],
        policy_version=values["policy_version"],
        log_index=values["log_index"],
        named_log_indexes=(
            None if values["named_log_indexes"] is None else tuple(values["named_log_indexes"])
        ),
        log_indexes=tuple(values["log_indexes"] or ()),
        check_note=values["check_note"],
        quote_id=values["quote_id"],
        deadline_at=values["deadline_at"],
        proof_nonce=values["proof_nonce"],
        proven_by=values["proven_by"],
        reviewer=values["reviewer"],
        review_claimed_at=values["review_claimed_at"],
        approvals=list(values["approvals"] or []),
        question=values["question"],
        answer=values["answer"],
        queue=values["queue"],
        verification_code=values["verification_code"],
        priority=values["priority"],
        queued_at=values["queued_at"],
        escalated_at=values["escalated_at"],
        created_at=values["created_at"],
        updated_at=values["updated_at"],
    )


def _to_event(row: CaseEventRow) -> CaseEvent:
    return CaseEvent(
        case_id=row.case_id,
        seq=row.seq,
        from_status=CaseStatus(row.from_status) if row.from_status else None,
        to_status=CaseStatus(row.to_status),
        actor=row.actor,
        reason_code=row.reason_code,
        detail=row.detail,
        created_at=row.created_at,
        message=row.message,
    )


class CaseRepository:
    """Loads and stores cases; `save` applies optimistic locking on `version`."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, case: Case) -> None:
        """Insert a new case and its pending events."""
        connection = self.session.connection()
        case.number = connection.execute(INSERT_CASE, case_values(case)).scalar_one()
        # A transfer another live case holds fails here, on the unique index of live claims.
        sync_claims(connection, [case], new=True)
        self._write_events(case)

    def save(self, case: Case) -> None:
        """Write the case's changes if nobody else changed it since it was read."""
        values = {name: getattr(case, name) for name in MUTABLE_FIELDS}
        values["status"] = case.status.value
        values["log_indexes"] = list(case.log_indexes)
        result = self.session.execute(
            update(CaseRow)
            .where(col(CaseRow.id) == case.id, col(CaseRow.version) == case.version)
            .values(**values, version=case.version + 1, last_seq=case.last_seq)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise StaleCase(
                f"case {case.reference} was changed by someone else (version {case.version} "
                f"is stale); read it again and retry"
            )
        if case.pending_events:
            # Claims change only when the case moves: written in the same transaction.
            self._sync_claims(case)
        case.version += 1
        self._write_events(case)

    def _sync_claims(self, case: Case) -> None:
        try:
            with self.session.begin_nested():
                sync_claims(self.session.connection(), [case])
        except IntegrityError:
            raise DuplicateClaim(
                f"case {case.reference}: a transfer it covers (log indexes "
                f"{', '.join(map(str, case.held_transfers()))} of transaction {case.tx_hash} on "
                f"{case.network}) is held by another live case; one transfer backs one live case"
            ) from None

    def _write_events(self, case: Case) -> None:
        write_events(self.session, [case])
        case.pending_events.clear()

    def get(self, case_id: str) -> Case | None:
        """The case with `case_id`, or None."""
        return CaseReads(self.session).get(case_id)

    def events(self, case_id: str) -> list[CaseEvent]:
        """The case's events, oldest first."""
        rows = self.session.scalars(
            select(CaseEventRow)
            .where(col(CaseEventRow.case_id) == case_id)
            .order_by(col(CaseEventRow.seq))
        )
        return [_to_event(row) for row in rows]

    def claim_holder(self, case: Case) -> tuple[Case, str] | None:
        """A live case that holds, or once verified will hold, a transfer `case` claims.

        Returns that case and which transfer it is. A claim on every transfer of a token
        to an address (no named logs) overlaps any live claim on the same token there;
        named logs overlap a claim on all of them and any live hold of the same log.
        """
        rows = self.session.execute(
            _LIVE_ON_TRANSACTION,
            {
                "network": case.network,
                "tx_hash": case.tx_hash,
                "token": case.token,
                "deposit_address": case.deposit_address,
                "case_id": case.id,
            },
        ).all()
        whole = case.named_log_indexes is None
        for row in rows:
            if whole or row.named_log_indexes is None:
                return _to_case(row), f"the {case.token} sent to {case.deposit_address}"
        held = holder_of(
            self.session.connection(),
            network=case.network,
            tx_hash=case.tx_hash,
            deposit_address=case.deposit_address,
            log_indexes=case.filed_transfers(),
        )
        if held is not None and held[0] != case.id:
            other = self.get(held[0])
            if other is not None:
                return other, f"log {held[1]}"
        return None

    def due_now(self, case_id: str, now: datetime) -> None:
        """Make the scheduler check this case at its next cycle."""
        self.session.execute(
            update(CaseRow)
            .where(col(CaseRow.id) == case_id)
            .values(next_check_at=now)
            .execution_options(synchronize_session=False)
        )

    def count_by_status(self) -> dict[str, int]:
        """How many cases stand in each state."""
        rows = self.session.execute(
            select(col(CaseRow.status), func.count()).group_by(col(CaseRow.status))
        )
        return dict(rows)

    def by_ids(self, case_ids: Sequence[str]) -> list[Case]:
        """The cases with these ids."""
        rows = self.session.execute(CASE_COLUMNS.where(col(CaseRow.id).in_(case_ids)))
        return [_to_case(row) for row in rows]


class IdempotencyRepository:
    """Remembers the case each Idempotency-Key created."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def find(self, owner: str, key: str) -> IdempotencyKeyRow | None:
        """The remembered request for this owner and key, if any."""
        return self.session.get(IdempotencyKeyRow, (owner, key))

    def remember(self, row: IdempotencyKeyRow) -> None:
        """Store a key; a concurrent request with the same key fails on the primary key."""
        self.session.add(row)
        self.session.flush()
