"""The tables, as SQLModel table classes; repositories map domain objects to and from rows.

Every column names its SQL type (`sa_type`), as the migrations have it: SQLModel would
otherwise pick one from the annotation (`str` as a VARCHAR of no length). Nullability
follows the annotation (`X | None` is nullable), as it did with `Mapped[...]`.

Unlike a declarative row, a SQLModel row built in Python sets every field that has a
default, so the INSERT names the column with that value instead of leaving it out. For a
`None` default that is SQL NULL, the same as leaving it out, except in a plain `JSON`
column, which writes JSON `null` (see `CaseRow.approvals`). Unknown keyword arguments are
dropped without an error (mypy catches them), and rows compare by value, not identity.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from recovery.db.types import Amount, UTCDateTime

# The metadata of every table: what the migrations are checked against.
metadata = SQLModel.metadata

# A claim on a transfer that no case has let go of yet.
_LIVE_CLAIM = "released_at IS NULL"

# An integer primary key the database numbers; None until the row is inserted.
_SERIAL = {"autoincrement": True}


class ApiKeyRow(SQLModel, table=True):
    """An API key, stored as a SHA-256 hash; the key itself is shown once at creation."""

    __tablename__ = "api_keys"

    id: int | None = Field(
        default=None, primary_key=True, sa_type=Integer, sa_column_kwargs=_SERIAL
    )
    prefix: str = Field(sa_type=String(16), unique=True)
    key_hash: str = Field(sa_type=String(64))
    role: str = Field(sa_type=String(16))
    subject: str = Field(sa_type=String(128), index=True)
    created_at: datetime = Field(sa_type=UTCDateTime())
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime())


class DepositAddressBase(SQLModel):
    """A deposit address as it is registered: the fields its table and API schemas share."""

    address: str = Field(primary_key=True, sa_type=String(128))
    owner: str = Field(sa_type=String(128), index=True)
    networks: list[str] = Field(sa_type=JSON)
    # BIP-44 index of its key in the service's HD wallet (m/44'/60'/0'/0/<index>).
    # No default: the public view always shows it, null or not.
    hd_index: int | None = Field(sa_type=Integer)


class DepositAddressRow(DepositAddressBase, table=True):
    """A deposit address the exchange controls, who owns it and where it was opened."""

    __tablename__ = "deposit_addresses"

    # An actor: "role:subject", a subject being up to 128 characters.
    created_by: str = Field(sa_type=String(160))
    created_at: datetime = Field(sa_type=UTCDateTime())


class CaseRow(SQLModel, table=True):
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
        # One desk queue, oldest first.
        Index("ix_cases_desk_queue", "status", "queue", "updated_at", "number"),
    )

    number: int | None = Field(
        default=None, primary_key=True, sa_type=Integer, sa_column_kwargs=_SERIAL
    )
    id: str = Field(sa_type=String(36), unique=True)
    claimant: str = Field(sa_type=String(128))
    case_type: str = Field(sa_type=String(32))
    network: str = Field(sa_type=String(64))
    opened_for: str | None = Field(default=None, sa_type=String(64))
    tx_hash: str = Field(sa_type=String(128))
    token: str = Field(sa_type=String(128))
    deposit_address: str = Field(sa_type=String(128))
    refund_address: str = Field(sa_type=String(128))
    claimed_amount: int | None = Field(default=None, sa_type=Amount())
    status: str = Field(sa_type=String(32))
    version: int = Field(default=0, sa_type=Integer)
    last_seq: int = Field(default=0, sa_type=Integer)
    # The first of `log_indexes`, kept for readers of the single-transfer schema.
    log_index: int | None = Field(default=None, sa_type=Integer)
    # The Transfer logs the appeal named (None: every transfer of its token to its address).
    named_log_indexes: list[int] | None = Field(default=None, sa_type=JSON(none_as_null=True))
    # The transfers the case covers: found on chain, or named (native value: -1).
    log_indexes: list[int] | None = Field(default=None, sa_type=JSON(none_as_null=True))
    # Plain JSON: a None given for these is JSON `null`, as `CaseRepository.add` has always
    # written them for a case not yet verified.
    facts: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    verdict: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    # The verdict's value in millionths of the quote currency, for the queue's value bands.
    value_micros: int | None = Field(default=None, sa_type=BigInteger)
    policy_version: str | None = Field(default=None, sa_type=String(128))
    created_at: datetime = Field(sa_type=UTCDateTime())
    updated_at: datetime = Field(sa_type=UTCDateTime())
    # Work claims by scheduler processes (a lapsed lease may be taken by another).
    next_check_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    lease_owner: str | None = Field(default=None, sa_type=String(64))
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime())
    # Why the last check could not finish (an RPC outage, say); shown to the user.
    check_note: str | None = Field(default=None, sa_type=Text)
    # Review: the open quote, its deadline, proof of ownership, reviewers, questions.
    quote_id: str | None = Field(default=None, sa_type=String(40))
    deadline_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    proof_nonce: str | None = Field(default=None, sa_type=String(64))
    proven_by: str | None = Field(default=None, sa_type=String(128))
    reviewer: str | None = Field(default=None, sa_type=String(128))
    review_claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    # A new case has no approvals: SQL NULL, as `CaseRepository.add` leaves it (its INSERT
    # names no approvals). A row built here sets the default None, which plain JSON would
    # write as JSON null. Saves always write a list.
    approvals: list[str] | None = Field(default=None, sa_type=JSON(none_as_null=True))
    question: str | None = Field(default=None, sa_type=Text)
    answer: str | None = Field(default=None, sa_type=Text)
    # Routing (policies/data/queues.yaml): the desk queue, the priority within it, when
    # the case last entered review (its service-level clock) and when it escalated.
    queue: str | None = Field(default=None, sa_type=String(32))
    # What its owner gives anyone who wants to check the case is real (GET /v1/verify).
    verification_code: str | None = Field(default=None, sa_type=String(16))
    priority: int = Field(default=0, sa_type=Integer, sa_column_kwargs={"server_default": "0"})
    queued_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    escalated_at: datetime | None = Field(default=None, sa_type=UTCDateTime())


class ClaimedTransferRow(SQLModel, table=True):
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

    id: int | None = Field(
        default=None, primary_key=True, sa_type=Integer, sa_column_kwargs=_SERIAL
    )
    case_id: str = Field(sa_type=String(36), foreign_key="cases.id", index=True)
    network: str = Field(sa_type=String(64))
    tx_hash: str = Field(sa_type=String(128))
    deposit_address: str = Field(sa_type=String(128))
    log_index: int = Field(sa_type=Integer)
    claimed_at: datetime = Field(sa_type=UTCDateTime())
    released_at: datetime | None = Field(default=None, sa_type=UTCDateTime())


class CaseEventRow(SQLModel, table=True):
    """One state change of a case; rows are only ever inserted."""

    __tablename__ = "case_events"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_case_events_seq"),)

    id: int | None = Field(
        default=None, primary_key=True, sa_type=Integer, sa_column_kwargs=_SERIAL
    )
    case_id: str = Field(sa_type=String(36), foreign_key="cases.id", index=True)
    seq: int = Field(sa_type=Integer)
    from_status: str | None = Field(default=None, sa_type=String(32))
    to_status: str = Field(sa_type=String(32))
    # "role:subject", a subject being up to 128 characters.
    actor: str = Field(sa_type=String(160))
    reason_code: str | None = Field(default=None, sa_type=String(64))
    detail: str = Field(sa_type=Text)
    # What the claimant reads when staff acted (a rejection note, a question); else null.
    message: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime())


class IdempotencyKeyRow(SQLModel, table=True):
    """Remembers which case an `Idempotency-Key` created, and for which body."""

    __tablename__ = "idempotency_keys"

    owner: str = Field(primary_key=True, sa_type=String(128))
    key: str = Field(primary_key=True, sa_type=String(128))
    request_hash: str = Field(sa_type=String(64))
    case_id: str = Field(sa_type=String(36), foreign_key="cases.id")
    created_at: datetime = Field(sa_type=UTCDateTime())


class QuoteRow(SQLModel, table=True):
    """A fee quote issued to a case; accepted, superseded or left to expire."""

    __tablename__ = "quotes"

    id: str = Field(primary_key=True, sa_type=String(40))
    case_id: str = Field(sa_type=String(36), foreign_key="cases.id", index=True)
    issued_at: datetime = Field(sa_type=UTCDateTime())
    valid_until: datetime = Field(sa_type=UTCDateTime())
    gross_amount: int = Field(sa_type=Amount())
    fee_amount: int = Field(sa_type=Amount())
    net_amount: int = Field(sa_type=Amount())
    body: dict[str, Any] = Field(sa_type=JSON)
    state: str = Field(sa_type=String(16))  # open | accepted | superseded


class PayoutRow(SQLModel, table=True):
    """The refund of one case: frozen at approval, sent by the payout engine."""

    __tablename__ = "payouts"

    id: str = Field(primary_key=True, sa_type=String(36))
    case_id: str = Field(sa_type=String(36), foreign_key="cases.id", unique=True)
    network: str = Field(sa_type=String(64))
    token: str = Field(sa_type=String(128))
    source: str = Field(sa_type=String(128))
    destination: str = Field(sa_type=String(128))
    amount: int = Field(sa_type=Amount())
    fee_amount: int = Field(sa_type=Amount())
    quote_id: str = Field(sa_type=String(40))
    created_at: datetime = Field(sa_type=UTCDateTime())
    # The one nonce of this payout, set once in the transaction that first signs it;
    # every later signing (a fee bump, a re-sign after an operator's decision) reuses it.
    nonce: int | None = Field(default=None, sa_type=Integer)
    # What the chain shows arrived at the destination, once a transfer is mined.
    delivered_amount: int | None = Field(default=None, sa_type=Amount())
    delivered_tx: str | None = Field(default=None, sa_type=String(80))
    delivered_block: int | None = Field(default=None, sa_type=Integer)
    delivered_block_hash: str | None = Field(default=None, sa_type=String(80))
    # When the delivering block became final (finalized tag, or the policy's depth).
    final_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    # When the chain was found to show neither this payout nor its deposit any more (a
    # reset devnet, a reorg deeper than both): nothing of it is ever sent again.
    orphaned_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    # The contract whose Transfer logs show the payout, when it is not `token` (a token
    # reached through a front contract).
    log_token: str | None = Field(default=None, sa_type=String(128))
    # The admin who asked to send a settled payout again; a second admin must confirm.
    retry_requested_by: str | None = Field(default=None, sa_type=String(128))


class PayoutTransactionRow(SQLModel, table=True):
    """A signed transaction of a payout, stored before it is broadcast.

    A fee bump is another row with the same sender and nonce; the payout is done when
    any of them is final.
    """

    __tablename__ = "payout_transactions"
    __table_args__ = (UniqueConstraint("tx_hash", name="uq_payout_transactions_hash"),)

    id: int | None = Field(
        default=None, primary_key=True, sa_type=Integer, sa_column_kwargs=_SERIAL
    )
    payout_id: str = Field(sa_type=String(36), foreign_key="payouts.id", index=True)
    kind: str = Field(sa_type=String(16))  # gas_topup | transfer
    sender: str = Field(sa_type=String(128))
    nonce: int = Field(sa_type=Integer)
    tx_hash: str = Field(sa_type=String(80))
    raw: str = Field(sa_type=Text)
    fees: dict[str, Any] = Field(sa_type=JSON)
    created_at: datetime = Field(sa_type=UTCDateTime())
    broadcast_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    # The last node refusal of this exact transaction (e.g. "insufficient funds").
    broadcast_error: str | None = Field(default=None, sa_type=Text)
    # The recipient of the transaction (for a top-up, the deposit address).
    recipient: str | None = Field(default=None, sa_type=String(128))
    # Gas-wallet top-ups are tracked on their own: pending | mined | abandoned. The server
    # default is for rows written by SQL that names no state (the migration's old rows).
    state: str = Field(
        default="pending", sa_type=String(16), sa_column_kwargs={"server_default": "pending"}
    )


class NonceRow(SQLModel, table=True):
    """The next nonce of a sending address on a network; one writer per address."""

    __tablename__ = "nonces"

    network: str = Field(primary_key=True, sa_type=String(64))
    address: str = Field(primary_key=True, sa_type=String(128))
    next_nonce: int = Field(sa_type=Integer)


class LedgerEntryRow(SQLModel, table=True):
    """Money the service booked on a case: the fee of a delivered payout, and gas spent.

    `fee` is written when a payout is delivered (and removed again if its block is
    reorged out before it is final); `gas` is what the payout's transactions and its
    gas top-ups cost in the native coin.
    """

    __tablename__ = "ledger_entries"
    __table_args__ = (UniqueConstraint("case_id", "kind", name="uq_ledger_case_kind"),)

    id: int | None = Field(
        default=None, primary_key=True, sa_type=Integer, sa_column_kwargs=_SERIAL
    )
    case_id: str = Field(sa_type=String(36), foreign_key="cases.id", index=True)
    kind: str = Field(sa_type=String(16))
    network: str = Field(sa_type=String(64))
    token: str = Field(sa_type=String(128))
    amount: int = Field(sa_type=Amount())
    created_at: datetime = Field(sa_type=UTCDateTime())


class ConsoleSessionRow(SQLModel, table=True):
    """A signed-in console session: an API key exchanged for a cookie.

    The cookie holds a 256-bit random token; only its SHA-256 is stored, as for API
    keys. The key's id is kept so that a revoked key ends its sessions at once.
    """

    __tablename__ = "console_sessions"

    id: int | None = Field(
        default=None, primary_key=True, sa_type=Integer, sa_column_kwargs=_SERIAL
    )
    token_hash: str = Field(sa_type=String(64), unique=True)
    key_prefix: str = Field(sa_type=String(16), index=True)
    subject: str = Field(sa_type=String(128))
    role: str = Field(sa_type=String(16))
    csrf_token: str = Field(sa_type=String(64))
    created_at: datetime = Field(sa_type=UTCDateTime())
    last_seen_at: datetime = Field(sa_type=UTCDateTime())
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime())


class FoundDepositRow(SQLModel, table=True):
    """A mis-sent deposit the discovery job saw land at a registered deposit address.

    One row per transfer (network, transaction, deposit address, log index; -1 for native
    value, as in `claimed_transfers`). `status`: `open` (offered to the owner), `dust`
    (recorded, below the policy's minimum, not offered), `claimed` (a case holds it:
    `case_id`), `withdrawn` (its block was reorged out; found again, it opens again).
    """

    __tablename__ = "found_deposits"
    __table_args__ = (
        UniqueConstraint(
            "network", "tx_hash", "deposit_address", "log_index", name="uq_found_deposits_transfer"
        ),
        # The owner's list, newest first, by status.
        Index("ix_found_deposits_owner_number", "owner", "number"),
        # The reorg watch: a network's unfinal finds, by block.
        Index("ix_found_deposits_network_block", "network", "block_number"),
    )

    number: int | None = Field(
        default=None, primary_key=True, sa_type=Integer, sa_column_kwargs=_SERIAL
    )
    id: str = Field(sa_type=String(36), unique=True)
    network: str = Field(sa_type=String(64))
    tx_hash: str = Field(sa_type=String(128))
    deposit_address: str = Field(sa_type=String(128))
    log_index: int = Field(sa_type=Integer)
    kind: str = Field(sa_type=String(32))
    opened_for: str | None = Field(default=None, sa_type=String(64))
    owner: str = Field(sa_type=String(128))
    token: str = Field(sa_type=String(128))
    sender: str = Field(sa_type=String(128))
    amount: int = Field(sa_type=Amount())
    block_number: int = Field(sa_type=BigInteger)
    block_hash: str = Field(sa_type=String(128))
    # Token metadata, the chain facts the verdict needed, and the verdict with its quote.
    facts: dict[str, Any] = Field(sa_type=JSON)
    verdict: dict[str, Any] = Field(sa_type=JSON)
    status: str = Field(sa_type=String(16))
    case_id: str | None = Field(default=None, sa_type=String(36))
    found_at: datetime = Field(sa_type=UTCDateTime())
    updated_at: datetime = Field(sa_type=UTCDateTime())


class DiscoveryCheckpointRow(SQLModel, table=True):
    """Where a network's discovery scan goes on: the next block, and the hash of the one
    before it (a reorg under the checkpoint changes that hash). Leased like cases."""

    __tablename__ = "discovery_checkpoints"

    network: str = Field(primary_key=True, sa_type=String(64))
    # The block the first scan started at: a reorg's rewind never goes below it.
    first_block: int = Field(sa_type=BigInteger)
    next_block: int = Field(sa_type=BigInteger)
    last_hash: str | None = Field(default=None, sa_type=String(128))
    lease_owner: str | None = Field(default=None, sa_type=String(64))
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime())
    updated_at: datetime = Field(sa_type=UTCDateTime())


class ReviewerQueueRow(SQLModel, table=True):
    """A reviewer's membership of a desk queue: their queue view shows these queues."""

    __tablename__ = "reviewer_queues"

    subject: str = Field(primary_key=True, sa_type=String(128))
    queue: str = Field(primary_key=True, sa_type=String(32))
    added_by: str = Field(sa_type=String(160))
    added_at: datetime = Field(sa_type=UTCDateTime())


class TriageRecordRow(SQLModel, table=True):
    """What one triage draft read, without the text: for the desk's topic statistics."""

    __tablename__ = "triage_records"

    id: int | None = Field(
        default=None, primary_key=True, sa_type=Integer, sa_column_kwargs=_SERIAL
    )
    created_at: datetime = Field(sa_type=UTCDateTime(), index=True)
    language: str = Field(sa_type=String(8))
    case_type: str | None = Field(default=None, sa_type=String(32))
    network: str | None = Field(default=None, sa_type=String(64))
    opened_for: str | None = Field(default=None, sa_type=String(64))
    token: str | None = Field(default=None, sa_type=String(32))


class UserLanguageRow(SQLModel, table=True):
    """The language a user chose to read the service in (over their Accept-Language)."""

    __tablename__ = "user_languages"

    subject: str = Field(primary_key=True, sa_type=String(128))
    language: str = Field(sa_type=String(8))
    updated_at: datetime = Field(sa_type=UTCDateTime())
