"""The tables. Domain objects are mapped to and from rows in the repositories."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from recovery.db.types import Amount, UTCDateTime

# A claim on a transfer that no case has let go of yet.
_LIVE_CLAIM = "released_at IS NULL"


class Base(DeclarativeBase):
    """Declarative base of every table."""


class ApiKeyRow(Base):
    """An API key, stored as a SHA-256 hash; the key itself is shown once at creation."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(128), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class DepositAddressRow(Base):
    """A deposit address the exchange controls, who owns it and where it was opened."""

    __tablename__ = "deposit_addresses"

    address: Mapped[str] = mapped_column(String(128), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128), index=True)
    networks: Mapped[list[str]] = mapped_column(JSON)
    # BIP-44 index of its key in the service's HD wallet (m/44'/60'/0'/0/<index>).
    hd_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CaseRow(Base):
    """One appeal."""

    __tablename__ = "cases"
    __table_args__ = (
        # Which transfers a case holds is in `claimed_transfers`; this finds the cases of
        # one transaction.
        Index("ix_cases_transfer", "network", "tx_hash"),
        Index("ix_cases_claimant_number", "claimant", "number"),
        Index("ix_cases_status_next_check", "status", "next_check_at"),
        # The review queue, oldest first, whole or by network: a keyset walk on these.
        Index("ix_cases_queue", "status", "updated_at", "number"),
        Index("ix_cases_queue_network", "status", "network", "updated_at", "number"),
    )

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    claimant: Mapped[str] = mapped_column(String(128))
    case_type: Mapped[str] = mapped_column(String(32))
    network: Mapped[str] = mapped_column(String(64))
    opened_for: Mapped[str | None] = mapped_column(String(64), nullable=True)
    tx_hash: Mapped[str] = mapped_column(String(128))
    token: Mapped[str] = mapped_column(String(128))
    deposit_address: Mapped[str] = mapped_column(String(128))
    refund_address: Mapped[str] = mapped_column(String(128))
    claimed_amount: Mapped[int | None] = mapped_column(Amount(), nullable=True)
    status: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer, default=0)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    # The first of `log_indexes`, kept for readers of the single-transfer schema.
    log_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The Transfer logs the appeal named (None: every transfer of its token to its address).
    named_log_indexes: Mapped[list[int] | None] = mapped_column(
        JSON(none_as_null=True), nullable=True
    )
    # The transfers the case covers: found on chain, or named (native value: -1).
    log_indexes: Mapped[list[int] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    facts: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    verdict: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # The verdict's value in millionths of the quote currency, for the queue's value bands.
    value_micros: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    policy_version: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Work claims by scheduler processes (a lapsed lease may be taken by another).
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Why the last check could not finish (an RPC outage, say); shown to the user.
    check_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Review: the open quote, its deadline, proof of ownership, reviewers, questions.
    quote_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    proof_nonce: Mapped[str | None] = mapped_column(String(64), nullable=True)
    proven_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    reviewer: Mapped[str | None] = mapped_column(String(128), nullable=True)
    review_claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    approvals: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    question: Mapped[str | None] = mapped_column(Text, nullable=True)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)


class ClaimedTransferRow(Base):
    """One on-chain transfer a case claims: a `Transfer` log, or a transaction's native value.

    A transfer backs at most one live case: a claim is live until its case is released
    (rejected, cancelled, expired), and a unique index over live claims refuses a second
    one. Released rows stay as the record of who claimed what. The deposit address is
    part of the key because native value has no log: marker index -1 stands for all the
    native value one transaction moved into one address, and one transaction can pay
    several addresses through internal transfers.
    """

    __tablename__ = "claimed_transfers"
    __table_args__ = (
        Index(
            "uq_claimed_transfers_live",
            "network",
            "tx_hash",
            "deposit_address",
            "log_index",
            unique=True,
            sqlite_where=text(_LIVE_CLAIM),
            postgresql_where=text(_LIVE_CLAIM),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    network: Mapped[str] = mapped_column(String(64))
    tx_hash: Mapped[str] = mapped_column(String(128))
    deposit_address: Mapped[str] = mapped_column(String(128))
    log_index: Mapped[int] = mapped_column(Integer)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CaseEventRow(Base):
    """One state change of a case; rows are only ever inserted."""

    __tablename__ = "case_events"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_case_events_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    from_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    to_status: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    reason_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[str] = mapped_column(Text)
    # What the claimant reads when staff acted (a rejection note, a question); else null.
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class IdempotencyKeyRow(Base):
    """Remembers which case an `Idempotency-Key` created, and for which body."""

    __tablename__ = "idempotency_keys"

    owner: Mapped[str] = mapped_column(String(128), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class QuoteRow(Base):
    """A fee quote issued to a case; accepted, superseded or left to expire."""

    __tablename__ = "quotes"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime())
    gross_amount: Mapped[int] = mapped_column(Amount())
    fee_amount: Mapped[int] = mapped_column(Amount())
    net_amount: Mapped[int] = mapped_column(Amount())
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))  # open | accepted | superseded


class PayoutRow(Base):
    """The refund of one case: frozen at approval, sent by the payout engine."""

    __tablename__ = "payouts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), unique=True)
    network: Mapped[str] = mapped_column(String(64))
    token: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(128))
    destination: Mapped[str] = mapped_column(String(128))
    amount: Mapped[int] = mapped_column(Amount())
    fee_amount: Mapped[int] = mapped_column(Amount())
    quote_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The one nonce of this payout, set once in the transaction that first signs it;
    # every later signing (a fee bump, a re-sign after an operator's decision) reuses it.
    nonce: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # What the chain shows arrived at the destination, once a transfer is mined.
    delivered_amount: Mapped[int | None] = mapped_column(Amount(), nullable=True)
    delivered_tx: Mapped[str | None] = mapped_column(String(80), nullable=True)
    delivered_block: Mapped[int | None] = mapped_column(Integer, nullable=True)
    delivered_block_hash: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # When the delivering block became final (finalized tag, or the policy's depth).
    final_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # When the chain was found to show neither this payout nor its deposit any more (a
    # reset devnet, a reorg deeper than both): nothing of it is ever sent again.
    orphaned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The contract whose Transfer logs show the payout, when it is not `token` (a token
    # reached through a front contract).
    log_token: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # The admin who asked to send a settled payout again; a second admin must confirm.
    retry_requested_by: Mapped[str | None] = mapped_column(String(128), nullable=True)


class PayoutTransactionRow(Base):
    """A signed transaction of a payout, stored before it is broadcast.

    A fee bump is another row with the same sender and nonce; the payout is done when
    any of them is final.
    """

    __tablename__ = "payout_transactions"
    __table_args__ = (UniqueConstraint("tx_hash", name="uq_payout_transactions_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    payout_id: Mapped[str] = mapped_column(ForeignKey("payouts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # gas_topup | transfer
    sender: Mapped[str] = mapped_column(String(128))
    nonce: Mapped[int] = mapped_column(Integer)
    tx_hash: Mapped[str] = mapped_column(String(80))
    raw: Mapped[str] = mapped_column(Text)
    fees: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    broadcast_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The last node refusal of this exact transaction (e.g. "insufficient funds").
    broadcast_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The recipient of the transaction (for a top-up, the deposit address).
    recipient: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # Gas-wallet top-ups are tracked on their own: pending | mined | abandoned.
    state: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")


class NonceRow(Base):
    """The next nonce of a sending address on a network; one writer per address."""

    __tablename__ = "nonces"

    network: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(String(128), primary_key=True)
    next_nonce: Mapped[int] = mapped_column(Integer)


class LedgerEntryRow(Base):
    """Money the service booked on a case: the fee of a delivered payout, and gas spent.

    `fee` is written when a payout is delivered (and removed again if its block is
    reorged out before it is final); `gas` is what the payout's transactions and its
    gas top-ups cost in the native coin.
    """

    __tablename__ = "ledger_entries"
    __table_args__ = (UniqueConstraint("case_id", "kind", name="uq_ledger_case_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    network: Mapped[str] = mapped_column(String(64))
    token: Mapped[str] = mapped_column(String(128))
    amount: Mapped[int] = mapped_column(Amount())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
