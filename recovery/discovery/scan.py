"""The discovery job: scan a network's new blocks for mis-sent deposits to registered addresses.

One cycle per network: lease the network's checkpoint (a conditional UPDATE, as for
cases, so any number of processes may run the job); read the head with the hash of the
block before the checkpoint and of every unfinal found deposit's block, from one
endpoint; withdraw found deposits whose block is no longer canonical, and step the
checkpoint back when the block under it changed (a reorg), so the new chain's blocks are
read again; read the next range (`chains.evm.discovery`); judge each find with the
policy; store it; move the checkpoint on; give the lease back. A find is keyed by its
transfer, so reading a range twice (after a crash, a reorg) stores nothing twice.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col

from chains.errors import ChainError
from chains.evm.adapter import EvmAdapter
from chains.evm.discovery import ScanCost, native_arrivals, transfer_logs
from policies import Facts, Policy, StaticPriceSource, evaluate
from recovery.appeals.verdicts import verdict_dict
from recovery.catalogue.tokens import sane_decimals
from recovery.db.engine import Database
from recovery.db.tables import (
    DepositAddressRow,
    DiscoveryCheckpointRow,
    FoundDepositRow,
)
from recovery.discovery.classify import (
    DUST_CODES,
    FoundKind,
    FoundStatus,
    Mistake,
    Registration,
    classify,
)
from recovery.discovery.holders import holder
from recovery.domain.case import NATIVE, NATIVE_LOG_INDEX
from recovery.verification.service import CycleReport

log = logging.getLogger(__name__)


ZERO_ADDRESS = "0x" + "0" * 40


class ChangedUnderRead(ChainError):
    """Raised when a range's blocks changed while discovery read them (a reorg at the tip,
    or endpoints that disagree): the range is read again."""


@dataclass(frozen=True)
class DiscoveryTiming:
    """How far one cycle reads and how it asks.

    `max_range`: blocks per cycle (a backfill catches up range by range). `chunk_size`:
    addresses per `eth_getLogs` OR-list. `whole_range_after`: with more chunks than this,
    read every `Transfer` log of the range instead and match here. `start_blocks`: where
    a network's first scan starts (default: its head at that moment; no backfill).
    """

    lease: timedelta = timedelta(seconds=60)
    max_range: int = 1000
    chunk_size: int = 1000
    whole_range_after: int = 8
    start_blocks: Mapping[str, int] = field(default_factory=dict)


@dataclass
class DiscoveryReport(CycleReport):
    """One discovery cycle: the range read, what it found and withdrew, what it cost."""

    first: int | None = None
    last: int | None = None
    head: int | None = None
    found: dict[str, int] = field(default_factory=dict)
    withdrawn: int = 0
    requests: int = 0

    @property
    def lag(self) -> int | None:
        """Blocks between the head and the last block read."""
        if self.head is None:
            return None
        return self.head - (self.last if self.last is not None else (self.first or 0) - 1)

    @property
    def blocks(self) -> int:
        """Blocks read in this cycle."""
        if self.first is None or self.last is None:
            return 0
        return self.last - self.first + 1


@dataclass(frozen=True)
class _Checkpoint:
    """A leased checkpoint: where the scan began and goes on (None: never scanned)."""

    first_block: int | None
    next_block: int | None
    last_hash: str | None


@dataclass(frozen=True)
class _Find:
    """A transfer into a registered address that is a mistake, before it is judged."""

    tx_hash: str
    block_number: int
    block_hash: str
    registration: Registration
    mistake: Mistake
    token: str  # NATIVE or the contract that emitted the Transfer log
    sender: str
    amount: int
    log_index: int
    internal: bool = False


class Discoverer:
    """Runs discovery cycles for the served networks of one process."""

    def __init__(
        self,
        database: Database,
        policy: Policy,
        adapters: Mapping[str, EvmAdapter],
        clock: Callable[[], datetime],
        *,
        timing: DiscoveryTiming | None = None,
        owner: str | None = None,
    ) -> None:
        self.database = database
        self.policy = policy
        self.adapters = adapters
        self.clock = clock
        self.timing = timing or DiscoveryTiming()
        self.owner = (
            owner or f"discover:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        )
        self._registry: tuple[tuple[Any, ...], dict[str, Registration]] | None = None
        # Blocks the next cycle reads per network: halved after a failed read, doubled
        # back after a good one, up to `timing.max_range`.
        self._spans: dict[str, int] = {}

    # The cycle

    def discover_cycle(self, network: str) -> DiscoveryReport:
        """Read the next range of `network`; never raises for an RPC failure (it is counted)."""
        report = DiscoveryReport()
        adapter = self.adapters[network]
        now = self.clock()
        checkpoint = self._lease(network, now)
        if checkpoint is None:
            return report  # another process holds this network's scan
        calls = adapter.calls
        span = self._spans.get(network, self.timing.max_range)
        try:
            self._cycle(network, adapter, checkpoint, report, span)
        except ChainError as exc:
            # Nothing moved: the same blocks are read again, fewer at a time (a node that
            # times out or refuses a large request may take a smaller one).
            report.rpc_errors[type(exc).__name__] += 1
            self._spans[network] = max(1, span // 2)
            log.warning("discovery on %s: %s; next read %d blocks", network, exc, max(1, span // 2))
            self._release(network, None, None)
        except BaseException:
            self._release(network, None, None)
            raise
        else:
            self._spans[network] = min(self.timing.max_range, span * 2)
        finally:
            report.requests = adapter.calls - calls
        return report

    def _cycle(
        self,
        network: str,
        adapter: EvmAdapter,
        checkpoint: _Checkpoint,
        report: DiscoveryReport,
        span: int,
    ) -> None:
        depth = self._reorg_depth(network)
        next_block, last_hash, first_block = (
            checkpoint.next_block,
            checkpoint.last_hash,
            checkpoint.first_block,
        )
        watched = self._unfinal(network, next_block, depth)
        heights = {b for _, b, _ in watched}
        if next_block is not None and next_block > 0:
            heights.add(next_block - 1)
        view = adapter.head_view(sorted(heights))
        report.head = view.head
        started = None
        if next_block is None or first_block is None:
            next_block = self.timing.start_blocks.get(network, view.head)
            first_block = started = next_block
            last_hash = None
        stale = [number for number, block, seen in watched if view.block_hashes.get(block) != seen]
        report.withdrawn = self._withdraw(stale)
        below = next_block - 1
        if below > view.head:
            # The chain is shorter than what was read (a devnet started afresh, a node
            # reset): everything above its head is gone; read what it has now.
            log.warning(
                "discovery on %s: head %d is below the checkpoint %d; reading from %d",
                network,
                view.head,
                next_block,
                max(0, view.head - depth),
            )
            next_block = max(0, view.head - depth)
            first_block = started = min(first_block, next_block)
            last_hash = None
        elif last_hash is not None and below >= 0 and view.block_hashes.get(below) != last_hash:
            # A reorg under the checkpoint: read the new chain's blocks again (never below
            # where the scan began: nothing there was ever read).
            rewound = max(first_block, next_block - depth)
            log.warning(
                "discovery on %s: block %d changed (reorg); reading again from %d",
                network,
                below,
                rewound,
            )
            next_block, last_hash = rewound, None
        first = next_block
        last = min(view.head, first + span - 1)
        if last < first:
            self._release(network, next_block, last_hash, started)
            return
        before = adapter.block_hashes([last]).get(last)
        finds = self._read(network, adapter, first, last)
        # The range counts as read only if the chain did not change under the reads: the
        # last block's hash is the same after as before, and every find's block is still
        # canonical (endpoints may differ at the tip). Else nothing is stored or moved,
        # and the next cycle reads it again.
        after = adapter.block_hashes(sorted({last} | {f.block_number for f in finds}))
        moved = [f for f in finds if after.get(f.block_number) != f.block_hash]
        if before is None or after.get(last) != before or moved:
            raise ChangedUnderRead(
                f"{network}: blocks {first}..{last} changed while they were read "
                f"(block {last}: {before} then {after.get(last)}; {len(moved)} finds moved)"
            )
        report.first, report.last = first, last
        stored = self._store(network, adapter, finds)
        for kind, count in stored.items():
            report.found[kind] = report.found.get(kind, 0) + count
        self._release(network, last + 1, before, started)

    def _reorg_depth(self, network: str) -> int:
        """How far back a reorg is looked for: beyond it a block counts as final here."""
        return max(2 * self.policy.networks[network].confirmations, 24)

    # Reading the chain

    def _read(self, network: str, adapter: EvmAdapter, first: int, last: int) -> list[_Find]:
        registry = self._registrations()
        family = self.policy.networks[network].family
        same_family = {
            address: r
            for address, r in registry.items()
            if {self.policy.networks[n].family for n in r.networks if n in self.policy.networks}
            == {family}
        }
        finds: list[_Find] = []
        cost = ScanCost()
        chunks = -(-len(same_family) // self.timing.chunk_size)
        transfers = transfer_logs(
            adapter,
            first,
            last,
            list(same_family),
            chunk_size=self.timing.chunk_size,
            whole_range=chunks > self.timing.whole_range_after,
            cost=cost,
        )
        for item in transfers:
            registration = same_family[item.transfer.recipient.lower()]
            mistake = classify(self.policy, network, registration, item.transfer.token)
            if mistake is None:
                continue
            finds.append(
                _Find(
                    tx_hash=item.tx_hash,
                    block_number=item.block_number,
                    block_hash=item.block_hash,
                    registration=registration,
                    mistake=mistake,
                    token=item.transfer.token,
                    sender=item.transfer.sender,
                    amount=item.transfer.value,
                    log_index=item.transfer.log_index,
                )
            )
        # Native value is a mistake only on a network the address was not opened for.
        elsewhere = [a for a, r in same_family.items() if network not in r.networks]
        arrivals = native_arrivals(
            adapter,
            first,
            last,
            elsewhere,
            traces=self.policy.networks[network].traces,
            cost=cost,
        )
        for arrival in arrivals:
            registration = same_family[arrival.recipient.lower()]
            mistake = classify(self.policy, network, registration, None)
            if mistake is None:
                continue
            finds.append(
                _Find(
                    tx_hash=arrival.tx_hash,
                    block_number=arrival.block_number,
                    block_hash=arrival.block_hash,
                    registration=registration,
                    mistake=mistake,
                    token=NATIVE,
                    sender=arrival.sender,
                    amount=arrival.value,
                    log_index=NATIVE_LOG_INDEX,
                    internal=arrival.internal,
                )
            )
        return finds

    def _registrations(self) -> dict[str, Registration]:
        """Every registered deposit address by lower-case address; re-read when it changed."""
        with self.database.unit_of_work() as session:
            stamp = tuple(
                session.execute(
                    select(func.count(), func.max(col(DepositAddressRow.created_at)))
                ).one()
            )
            if self._registry is not None and self._registry[0] == stamp:
                return self._registry[1]
            rows = session.execute(
                select(
                    col(DepositAddressRow.address),
                    col(DepositAddressRow.owner),
                    col(DepositAddressRow.networks),
                )
            ).all()
        registry = {
            str(address).lower(): Registration(str(address), str(owner), tuple(networks))
            for address, owner, networks in rows
        }
        self._registry = (stamp, registry)
        return registry

    # Judging and storing

    def _store(self, network: str, adapter: EvmAdapter, finds: Sequence[_Find]) -> dict[str, int]:
        if not finds:
            return {}
        now = self.clock()
        tokens = sorted({f.token for f in finds if f.token != NATIVE})
        listed = self.policy.networks[network]
        metadata: dict[str, dict[str, Any]] = {}
        for token in tokens:
            asset = listed.listed(token)
            if asset is not None:
                metadata[token] = {"symbol": asset.symbol, "decimals": asset.decimals}
                continue
            found = adapter.token_metadata(token)
            # As verification reads them: a number no token can mean is unknown.
            metadata[token] = {"symbol": found.symbol, "decimals": sane_decimals(found)}
        codes = adapter.account_codes(sorted({f.registration.address for f in finds}))
        stored: dict[str, int] = {}
        with self.database.unit_of_work() as session:
            for find in finds:
                code = codes.get(find.registration.address)
                facts = {
                    "token": find.token,
                    "symbol": (
                        metadata[find.token]["symbol"]
                        if find.token != NATIVE
                        else listed.native.symbol
                    ),
                    "decimals": (
                        metadata[find.token]["decimals"]
                        if find.token != NATIVE
                        else listed.native.decimals
                    ),
                    "sender": find.sender,
                    "amount": str(find.amount),
                    "deposit_address_is_contract": None if code is None else code.has_code,
                    "internal": find.internal,
                }
                opened_for, verdict = self._judge(network, find, facts, now)
                if self._upsert(session, network, find, opened_for, facts, verdict, now):
                    stored[find.mistake.kind.value] = stored.get(find.mistake.kind.value, 0) + 1
        return stored

    def _judge(
        self, network: str, find: _Find, facts: dict[str, Any], now: datetime
    ) -> tuple[str | None, dict[str, Any]]:
        """The verdict on the find as a case; for a wrong-network one, against the first
        network the address was opened for whose pair the policy recovers."""
        choices: tuple[str | None, ...] = (
            find.mistake.opened_for if find.mistake.kind is FoundKind.WRONG_NETWORK else (None,)
        )
        first: tuple[str | None, Any] | None = None
        for opened_for in choices:
            verdict = evaluate(
                Facts(
                    case_type=find.mistake.kind.value,
                    network=network,
                    opened_for=opened_for,
                    token=None if find.token == NATIVE else find.token,
                    token_decimals=facts["decimals"],
                    amount=find.amount,
                    deposit_address_is_contract=facts["deposit_address_is_contract"],
                    sender=find.sender,
                    # The refund goes back to the sender unless the owner names another.
                    refund_address=find.sender,
                    now=now,
                ),
                self.policy,
                StaticPriceSource(self.policy),
            )
            if verdict.eligible or verdict.pending:
                return opened_for, verdict_dict(verdict)
            first = first or (opened_for, verdict)
        assert first is not None, "a find has at least one network to be judged against"
        return first[0], verdict_dict(first[1])

    def _upsert(
        self,
        session: Session,
        network: str,
        find: _Find,
        opened_for: str | None,
        facts: dict[str, Any],
        verdict: dict[str, Any],
        now: datetime,
    ) -> bool:
        """Store a find; True when it is new (or back after a reorg took it away)."""
        key = (
            col(FoundDepositRow.network) == network,
            col(FoundDepositRow.tx_hash) == find.tx_hash,
            col(FoundDepositRow.deposit_address) == find.registration.address,
            col(FoundDepositRow.log_index) == find.log_index,
        )
        status, case_id = _offer(verdict), self._holder(session, network, find)
        if find.sender.lower() == ZERO_ADDRESS:
            # Minted to the address (an airdrop), not sent to it by mistake: nobody can
            # prove they sent it, and a refund has nowhere to go. Recorded, not offered.
            status = FoundStatus.REFUSED
        if case_id is not None:
            status = FoundStatus.CLAIMED
        existing = session.execute(
            select(col(FoundDepositRow.status), col(FoundDepositRow.block_hash)).where(*key)
        ).first()
        values = {
            "block_number": find.block_number,
            "block_hash": find.block_hash,
            "kind": find.mistake.kind.value,
            "opened_for": opened_for,
            "owner": find.registration.owner,
            "token": find.token,
            "sender": find.sender,
            "amount": find.amount,
            "facts": facts,
            "verdict": verdict,
            "updated_at": now,
        }
        if existing is not None:
            was, block_hash = existing
            if was != FoundStatus.WITHDRAWN and block_hash == find.block_hash:
                return False
            if was not in (FoundStatus.CLAIMED,):
                values["status"] = status.value
                values["case_id"] = case_id
            session.execute(update(FoundDepositRow).where(*key).values(**values))
            return was == FoundStatus.WITHDRAWN
        try:
            with session.begin_nested():
                session.execute(
                    insert(FoundDepositRow).values(
                        id=str(uuid.uuid4()),
                        network=network,
                        tx_hash=find.tx_hash,
                        deposit_address=find.registration.address,
                        log_index=find.log_index,
                        status=status.value,
                        case_id=case_id,
                        found_at=now,
                        **values,
                    )
                )
        except IntegrityError:
            return False  # another process stored it first
        return True

    def _holder(self, session: Session, network: str, find: _Find) -> str | None:
        """The live case that already stands for this transfer (a user filed it first)."""
        return holder(
            session,
            network=network,
            tx_hash=find.tx_hash,
            deposit_address=find.registration.address,
            token=find.token,
            log_index=find.log_index,
        )

    # Reorgs

    def _unfinal(
        self, network: str, next_block: int | None, depth: int
    ) -> list[tuple[int, int, str]]:
        """(number, block, block hash) of the network's finds that a reorg may still take."""
        if next_block is None:
            return []
        with self.database.unit_of_work() as session:
            rows = session.execute(
                select(
                    col(FoundDepositRow.number),
                    col(FoundDepositRow.block_number),
                    col(FoundDepositRow.block_hash),
                ).where(
                    col(FoundDepositRow.network) == network,
                    col(FoundDepositRow.block_number) >= next_block - depth,
                    col(FoundDepositRow.status).in_(
                        [FoundStatus.OPEN, FoundStatus.DUST, FoundStatus.REFUSED]
                    ),
                )
            ).all()
        return [(int(n), int(b), str(h)) for n, b, h in rows if n is not None]

    def _withdraw(self, numbers: Sequence[int]) -> int:
        """Withdraw finds whose block is no longer canonical (found again, they reopen)."""
        if not numbers:
            return 0
        with self.database.unit_of_work() as session:
            session.execute(
                update(FoundDepositRow)
                .where(
                    col(FoundDepositRow.number).in_(numbers),
                    col(FoundDepositRow.status) != FoundStatus.CLAIMED,
                )
                .values(status=FoundStatus.WITHDRAWN.value, updated_at=self.clock())
            )
        return len(numbers)

    # The checkpoint's lease

    def _lease(self, network: str, now: datetime) -> _Checkpoint | None:
        """Lease the network's checkpoint (all None if never scanned), or None when another
        live process holds it."""
        free = or_(
            col(DiscoveryCheckpointRow.lease_until).is_(None),
            col(DiscoveryCheckpointRow.lease_until) < now,
        )
        with self.database.unit_of_work() as session:
            if session.get(DiscoveryCheckpointRow, network) is None:
                try:
                    with session.begin_nested():
                        session.execute(
                            insert(DiscoveryCheckpointRow).values(
                                network=network, first_block=-1, next_block=-1, updated_at=now
                            )
                        )
                except IntegrityError:
                    pass  # another process made it first
            leased = session.execute(
                update(DiscoveryCheckpointRow)
                .where(col(DiscoveryCheckpointRow.network) == network, free)
                .values(lease_owner=self.owner, lease_until=now + self.timing.lease)
                .returning(
                    col(DiscoveryCheckpointRow.first_block),
                    col(DiscoveryCheckpointRow.next_block),
                    col(DiscoveryCheckpointRow.last_hash),
                )
                .execution_options(synchronize_session=False)
            ).first()
        if leased is None:
            return None
        first_block, next_block, last_hash = leased
        if next_block < 0:
            return _Checkpoint(None, None, None)
        return _Checkpoint(int(first_block), int(next_block), last_hash)

    def _release(
        self,
        network: str,
        next_block: int | None,
        last_hash: str | None,
        first_block: int | None = None,
    ) -> None:
        """Give the checkpoint back, moved to `next_block` (None: where it was); a first
        scan records where it started (`first_block`)."""
        values: dict[str, Any] = {
            "lease_owner": None,
            "lease_until": None,
            "updated_at": self.clock(),
        }
        if next_block is not None:
            values |= {"next_block": next_block, "last_hash": last_hash}
        if first_block is not None:
            values["first_block"] = first_block
        with self.database.unit_of_work() as session:
            session.execute(
                update(DiscoveryCheckpointRow)
                .where(
                    col(DiscoveryCheckpointRow.network) == network,
                    col(DiscoveryCheckpointRow.lease_owner) == self.owner,
                )
                .values(**values)
            )


def _offer(verdict: dict[str, Any]) -> FoundStatus:
    """Open when the owner can claim it; dust below the minimum; refused when the policy
    rules it out whatever the owner does."""
    codes = set(verdict.get("reason_codes") or ())
    if codes & DUST_CODES:
        return FoundStatus.DUST
    pending = [c for c in verdict.get("conditions") or () if c.get("status") == "pending"]
    if not verdict.get("eligible") and not pending:
        return FoundStatus.REFUSED
    return FoundStatus.OPEN
