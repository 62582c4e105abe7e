"""The claimed-transfer rows: each live case holds exactly the transfers it covers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlmodel import col

from recovery.db.tables import ClaimedTransferRow
from recovery.domain.case import Case

_RELEASE = (
    update(ClaimedTransferRow)
    .where(
        col(ClaimedTransferRow.case_id) == bindparam("b_case_id"),
        col(ClaimedTransferRow.log_index) == bindparam("b_log_index"),
        col(ClaimedTransferRow.released_at).is_(None),
    )
    .values(released_at=bindparam("b_released_at"))
)


# A new live claim's row (`claim_values`), from named parameters: built once.
INSERT_CLAIM = insert(ClaimedTransferRow).values(
    {
        key: bindparam(key)
        for key in (
            "case_id", "network", "tx_hash", "deposit_address", "log_index", "claimed_at",
            "released_at",
        )
    }
)  # fmt: skip


def claim_values(case: Case, log_index: int) -> dict[str, Any]:
    """The row of a new live claim of `case` on one transfer."""
    return {
        "case_id": case.id,
        "network": case.network,
        "tx_hash": case.tx_hash,
        "deposit_address": case.deposit_address,
        "log_index": log_index,
        "claimed_at": case.updated_at,
        "released_at": None,
    }


def sync_claims(connection: Connection, cases: Sequence[Case], *, new: bool = False) -> None:
    """Make each case's live claims exactly `case.held_transfers()`, in a few statements.

    Claims a case no longer holds (it was released, or a reorg left it with fewer) are
    released at the case's `updated_at`; new ones are inserted. A transfer another live
    case holds raises `IntegrityError` from the unique index over live claims: the caller
    rolls back and tells the claimant it is a duplicate. `new`: the cases were inserted
    just now, so they hold nothing yet and there is nothing to read.
    """
    if not cases:
        return
    live: dict[str, set[int]] = defaultdict(set)
    ids = [] if new else [case.id for case in cases]
    for start in range(0, len(ids), 500):
        rows = connection.execute(
            select(col(ClaimedTransferRow.case_id), col(ClaimedTransferRow.log_index)).where(
                col(ClaimedTransferRow.case_id).in_(ids[start : start + 500]),
                col(ClaimedTransferRow.released_at).is_(None),
            )
        )
        for case_id, log_index in rows:
            live[case_id].add(log_index)
    releases: list[dict[str, Any]] = []
    claims: list[dict[str, Any]] = []
    for case in cases:
        wanted = set(case.held_transfers())
        have = live.get(case.id, set())
        releases.extend(
            {"b_case_id": case.id, "b_log_index": index, "b_released_at": case.updated_at}
            for index in sorted(have - wanted)
        )
        claims.extend(claim_values(case, index) for index in sorted(wanted - have))
    # Releases first: within one batch a transfer may pass from one case to another.
    if releases:
        connection.execute(_RELEASE, releases)
    if claims:
        connection.execute(INSERT_CLAIM, claims)


_HOLDER = (
    select(col(ClaimedTransferRow.case_id), col(ClaimedTransferRow.log_index))
    .where(
        col(ClaimedTransferRow.network) == bindparam("network"),
        col(ClaimedTransferRow.tx_hash) == bindparam("tx_hash"),
        col(ClaimedTransferRow.deposit_address) == bindparam("deposit_address"),
        col(ClaimedTransferRow.log_index).in_(bindparam("log_indexes", expanding=True)),
        col(ClaimedTransferRow.released_at).is_(None),
    )
    .order_by(col(ClaimedTransferRow.log_index))
    .limit(1)
)


def holder_of(
    connection: Connection,
    *,
    network: str,
    tx_hash: str,
    deposit_address: str,
    log_indexes: Sequence[int],
) -> tuple[str, int] | None:
    """The live case holding any of these transfers, and which one it holds; or None."""
    if not log_indexes:
        return None
    row = connection.execute(
        _HOLDER,
        {
            "network": network,
            "tx_hash": tx_hash,
            "deposit_address": deposit_address,
            "log_indexes": sorted(set(log_indexes)),
        },
    ).first()
    return (str(row[0]), int(row[1])) if row else None
