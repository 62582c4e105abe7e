"""Which live case, if any, already stands for a found deposit's transfer."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from recovery.db.tables import CaseRow, ClaimedTransferRow
from recovery.domain.case import NATIVE_LOG_INDEX
from recovery.domain.states import RELEASED_STATES


def holder(
    session: Session,
    *,
    network: str,
    tx_hash: str,
    deposit_address: str,
    token: str,
    log_index: int,
) -> str | None:
    """The live case that claims the transfer, or that will once verified.

    A case holds the transfers it claims (`claimed_transfers`); a token appeal that named
    no log claims every transfer of its token to its address in the transaction only
    when verification reads them, so until then it is found by the transfer's own facts.
    """
    claimed = session.scalar(
        select(col(ClaimedTransferRow.case_id)).where(
            col(ClaimedTransferRow.network) == network,
            col(ClaimedTransferRow.tx_hash) == tx_hash,
            col(ClaimedTransferRow.deposit_address) == deposit_address,
            col(ClaimedTransferRow.log_index) == log_index,
            col(ClaimedTransferRow.released_at).is_(None),
        )
    )
    if claimed is not None or log_index == NATIVE_LOG_INDEX:
        return claimed
    return session.scalar(
        select(col(CaseRow.id)).where(
            col(CaseRow.network) == network,
            col(CaseRow.tx_hash) == tx_hash,
            col(CaseRow.deposit_address) == deposit_address,
            col(CaseRow.token) == token,
            col(CaseRow.named_log_indexes).is_(None),
            col(CaseRow.status).not_in([s.value for s in RELEASED_STATES]),
        )
    )
