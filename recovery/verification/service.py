"""The verification and confirmation cycles: batched chain reads, one transaction per case.

Cost per cycle grows with networks and distinct blocks, not with cases: verification reads
every claimed transaction of a network in one batch; the confirmation cycle reads one head
per network and the hashes of the distinct blocks holding watched deposits in one batch.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError

from chains.base import AccountCode, ChainAdapter, ChainError, TokenMetadata, TransactionFacts
from chains.errors import NodesBehind
from chains.evm.adapter import EvmAdapter
from policies import Policy, Verdict
from recovery.appeals.errors import DuplicateClaim
from recovery.appeals.repository import CaseRepository
from recovery.appeals.verdicts import judge_case, verdict_dict
from recovery.catalogue.tokens import sane_decimals
from recovery.db.engine import Database
from recovery.domain.case import NATIVE, Case
from recovery.domain.errors import StaleCase
from recovery.domain.states import CaseStatus
from recovery.payouts.preflight import Claim, Preflight, preflight
from recovery.review.quotes import issue_quote
from recovery.review.routing import describe, route_case
from recovery.verification.claims import (
    NotAllWritten,
    WatchProgress,
    claim_due,
    record_progress,
    release,
    save_all_and_release,
    save_and_release,
)
from recovery.verification.matching import Matched, NativeEvidence, Refused, match, needs_trace
from recovery.verification.pacing import next_look, poll_interval

log = logging.getLogger(__name__)
SYSTEM = "system:verifier"

# Looked up on chain (again): new claims, unseen transactions, and deposits reorged out
# after approval, which go back through verification before any payout.
TO_VERIFY = (CaseStatus.SUBMITTED, CaseStatus.VERIFYING, CaseStatus.ON_HOLD)
# Deposits whose block is watched for confirmations (confirming) or for a reorg that
# would take the deposit away after approval (approved, until the payout starts).
WATCHED = (
    CaseStatus.CONFIRMING,
    CaseStatus.QUOTED,
    CaseStatus.IN_REVIEW,
    CaseStatus.APPROVED,
)
# Watched only for a reorg of their deposit: they gain nothing from more confirmations.
SETTLED = (CaseStatus.QUOTED, CaseStatus.IN_REVIEW, CaseStatus.APPROVED)
# Verified cases written per database transaction: one transaction for many cases instead
# of one each, yet short enough not to hold SQLite's write lock for long.
WRITE_CHUNK = 250
_T = TypeVar("_T")


@dataclass
class CycleReport:
    """What one cycle did, for logs, metrics and tests."""

    claimed: int = 0
    moved: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    waiting: int = 0
    errors: int = 0
    rpc_errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # Cases another process or a user changed while this one worked on them; theirs stands.
    conflicts: int = 0


@dataclass(frozen=True)
class CheckTiming:
    """How long to wait: the deadline for an unseen transaction, and retry intervals."""

    deadline: timedelta = timedelta(hours=6)
    retry: timedelta = timedelta(seconds=15)
    lease: timedelta = timedelta(seconds=60)


@dataclass(frozen=True)
class _ChainFacts:
    """What the chain said about one claim: its transaction, the code at the deposit
    address, and for a native claim what its call trace showed."""

    tx: TransactionFacts | None
    deposit_code: AccountCode | None
    native: NativeEvidence | None = None
    refund_code: AccountCode | None = None

    @property
    def is_contract(self) -> bool | None:
        """Whether the deposit address holds code (a contract or a delegation)."""
        return None if self.deposit_code is None else self.deposit_code.has_code


@dataclass
class _Worked:
    """A claimed case and, when it could be worked out in memory, the case moved on."""

    snapshot: Case
    chain: _ChainFacts
    metadata: TokenMetadata | None
    case: Case | None = None
    next_check: datetime | None = None
    waiting: int = 0
    moved: list[str] = field(default_factory=list)


def _unavailable(network: str, exc: Exception) -> str:
    """The note a case shows while its network's nodes fail: the error goes to the log only
    (it may name an endpoint, and an endpoint's URL may hold an API key)."""
    log.warning("%s RPC unavailable: %s", network, exc)
    return f"the {network} nodes did not answer; the check is retried shortly"


class Checker:
    """Runs the verification and confirmation cycles for one process."""

    def __init__(
        self,
        database: Database,
        policy: Policy,
        adapters: Mapping[str, ChainAdapter],
        clock: Callable[[], datetime],
        *,
        timing: CheckTiming | None = None,
        owner: str | None = None,
        batch_size: int | None = None,
    ) -> None:
        self.database = database
        self.policy = policy
        self.adapters = adapters
        self.clock = clock
        self.timing = timing or CheckTiming()
        # Host and pid tell an operator which process holds a lease; the suffix keeps two
        # checkers of one process apart.
        self.owner = owner or f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # Most cases one cycle claims (None: the cycle's own default).
        self.batch_size = batch_size
        self._metadata: dict[tuple[str, str], TokenMetadata] = {}

    # -- verification -------------------------------------------------------------------

    def verify_cycle(
        self, networks: Collection[str] | None = None, limit: int | None = None
    ) -> CycleReport:
        """Look up every due submitted/verifying/on_hold claim on its chain and move it on.

        `networks` limits the cycle to those networks (None: all of them).
        """
        report = CycleReport()
        now = self.clock()
        by_network = self._claim(TO_VERIFY, now, limit or self.batch_size or 1000, report, networks)
        for network, cases in by_network.items():
            adapter = self.adapters.get(network)
            if adapter is None:
                self._leave(cases, f"no RPC endpoint is configured for {network}", now, report)
                continue
            try:
                found = adapter.transactions([c.tx_hash for c in cases])
                chains = self._read_chain(adapter, cases, found)
            except ChainError as exc:
                report.rpc_errors[network] += 1
                log.warning(
                    "verifying %d cases on %s (first %s): RPC unavailable: %s",
                    len(cases),
                    network,
                    cases[0].reference,
                    exc,
                )
                self._leave(cases, _unavailable(network, exc), now, report)
                continue
            # Work every case out in memory from the snapshot it was claimed as, then
            # write them together; anything unusual takes the per-case path below.
            worked: list[_Worked] = []
            for case in cases:
                chain = chains[case.id]
                if chain is None:
                    self._leave(
                        [case],
                        f"the {network} node has no call trace of transaction {case.tx_hash} "
                        "yet; looking again",
                        now,
                        report,
                    )
                    continue
                try:
                    metadata = self._token_metadata(adapter, case, chain.tx)
                    worked.append(self._work_out_copy(case, chain, metadata))
                except ChainError as exc:
                    report.rpc_errors[network] += 1
                    log.warning(
                        "verifying case %s: %s RPC unavailable: %s", case.reference, network, exc
                    )
                    self._leave([case], _unavailable(network, exc), now, report)
                except Exception:
                    report.errors += 1
                    log.exception("verifying case %s failed", case.reference)
                    self._leave([case], "an internal error stopped the check", now, report)
            for chunk in _chunks(worked, WRITE_CHUNK):
                for item in self._write_worked(network, chunk, report):
                    self._verify_alone(network, item, now, report)
        return report

    def _read_chain(
        self,
        adapter: ChainAdapter,
        cases: Sequence[Case],
        found: Mapping[str, TransactionFacts | None],
    ) -> dict[str, _ChainFacts | None]:
        """Code at every deposit address (and native claims' recipients) in one batch, and
        the call traces native claims need in another; None where a trace is missing."""
        recipients = {
            tx.recipient
            for case in cases
            if case.token == NATIVE and (tx := found.get(case.tx_hash)) and tx.recipient
        }
        codes = adapter.account_codes(
            sorted(
                {c.deposit_address for c in cases} | {c.refund_address for c in cases} | recipients
            )
        )
        traces = self.policy.networks[adapter.network].traces
        evidence: dict[str, NativeEvidence] = {}
        wanted: set[str] = set()
        for case in cases:
            tx = found.get(case.tx_hash)
            if tx is None or case.token != NATIVE:
                continue
            runs_code = tx.recipient is None or codes[tx.recipient].has_code
            evidence[case.id] = NativeEvidence(runs_code=runs_code, traces=traces)
            if traces and needs_trace(case, tx, runs_code):
                wanted.add(case.tx_hash)
        moves = adapter.native_moves(sorted(wanted)) if wanted else {}
        chains: dict[str, _ChainFacts | None] = {}
        for case in cases:
            native = evidence.get(case.id)
            if native is not None and case.tx_hash in moves:
                traced = moves[case.tx_hash]
                if traced is None:
                    chains[case.id] = None  # the node knows the transaction, not its trace
                    continue
                native = replace(native, moves=traced)
            chains[case.id] = _ChainFacts(
                found.get(case.tx_hash),
                codes.get(case.deposit_address),
                native,
                codes.get(case.refund_address),
            )
        return chains

    def _work_out_copy(
        self, snapshot: Case, chain: _ChainFacts, metadata: TokenMetadata | None
    ) -> _Worked:
        """The claimed case moved on by the chain's facts, in memory; `snapshot` untouched."""
        worked = _Worked(snapshot, chain, metadata)
        if snapshot.status not in TO_VERIFY:
            return worked  # not for this path: `_verify_alone` reads it again
        case = replace(snapshot, pending_events=[], approvals=list(snapshot.approvals))
        worked.case = case
        worked.next_check, worked.waiting = self._work_out(case, chain, metadata, self.clock())
        worked.moved = [e.to_status.value for e in case.pending_events]
        return worked

    def _write_worked(
        self, network: str, chunk: Sequence[_Worked], report: CycleReport
    ) -> list[_Worked]:
        """Write a chunk of worked-out cases in one transaction; return those left to redo.

        Each case is written only at the version it was claimed at and while this process
        holds its lease; usually all qualify and one statement writes them all
        (`save_all_and_release`). Otherwise that is rolled back and one statement per case
        (`save_and_release`) leaves those that do not qualify untouched; they are returned,
        to go the per-case path, which reads them again. If a transaction fails as a
        whole, nothing of it was written and every case of the chunk is returned.
        """
        ready = [(w, w.case) for w in chunk if w.case is not None]
        work = [(case, w.next_check) for w, case in ready]
        lost: list[Case] = []
        try:
            try:
                # The usual cycle: nobody touched these cases since they were claimed.
                with self.database.unit_of_work() as session:
                    save_all_and_release(session, work, owner=self.owner)
            except NotAllWritten:
                # Rolled back; now one statement per case tells which ones to redo.
                with self.database.unit_of_work() as session:
                    lost = save_and_release(session, work, owner=self.owner)
        except IntegrityError as exc:
            # Two claims on one transfer log: the per-case path rejects the later one.
            log.warning(
                "writing %d verified cases on %s together hit %s; writing them one by one",
                len(ready),
                network,
                exc.orig,
            )
            return list(chunk)
        except Exception:
            log.exception("writing %d verified cases on %s failed", len(ready), network)
            return list(chunk)
        missed = {id(case) for case in lost}
        for item, case in ready:
            if id(case) not in missed:
                report.waiting += item.waiting
                for status in item.moved:
                    report.moved[status] += 1
        return [w for w in chunk if w.case is None or id(w.case) in missed]

    def _verify_alone(
        self, network: str, item: _Worked, now: datetime, report: CycleReport
    ) -> None:
        """The per-case path: read the case again, work it out and write it on its own."""
        case = item.snapshot
        try:
            self._verify_one(case, item.chain, item.metadata, report)
        except ChainError as exc:
            report.rpc_errors[network] += 1
            log.warning("verifying case %s: %s RPC unavailable: %s", case.reference, network, exc)
            self._leave([case], _unavailable(network, exc), now, report)
        except StaleCase:
            self._conflict(case, report)
        except Exception:
            report.errors += 1
            log.exception("verifying case %s failed", case.reference)
            self._leave([case], "an internal error stopped the check", now, report)

    def _token_metadata(
        self, adapter: ChainAdapter, case: Case, tx: TransactionFacts | None
    ) -> TokenMetadata | None:
        if tx is None or case.token == NATIVE:
            return None
        key = (case.network, case.token.lower())
        if key not in self._metadata:
            self._metadata[key] = adapter.token_metadata(case.token)
        return self._metadata[key]

    def _verify_one(
        self,
        snapshot: Case,
        chain: _ChainFacts,
        metadata: TokenMetadata | None,
        report: CycleReport,
    ) -> None:
        now = self.clock()
        with self.database.unit_of_work() as session:
            repository = CaseRepository(session)
            case = repository.get(snapshot.id)
            if case is None or case.status not in TO_VERIFY:
                release(session, snapshot.id, owner=self.owner, next_check_at=None)
                return
            next_check, waiting = self._work_out(case, chain, metadata, now)
            report.waiting += waiting
            self._save(session, repository, case, report, next_check)

    def _work_out(
        self,
        case: Case,
        chain: _ChainFacts,
        metadata: TokenMetadata | None,
        now: datetime,
    ) -> tuple[datetime | None, int]:
        """Move a submitted/verifying/on_hold case on by the chain's facts, in memory.

        Returns when to look at it again (None: not automatically) and 1 when it waits
        for its transaction (0 otherwise).
        """
        waiting = 0
        if case.status == CaseStatus.SUBMITTED:
            case.transition(
                CaseStatus.VERIFYING,
                actor=SYSTEM,
                at=now,
                detail=f"looking transaction {case.tx_hash} up on {case.network}",
            )
        elif case.status == CaseStatus.ON_HOLD:
            case.transition(
                CaseStatus.VERIFYING,
                actor=SYSTEM,
                at=now,
                detail=f"the deposit was reorged out after approval; looking transaction "
                f"{case.tx_hash} up on {case.network} again before any payout",
            )
        next_check: datetime | None = None
        tx = chain.tx
        if tx is None:
            deadline = _looking_since(case) + self.timing.deadline
            if now >= deadline:
                case.transition(
                    CaseStatus.REJECTED,
                    actor=SYSTEM,
                    at=now,
                    reason_code="tx_not_found",
                    detail=f"transaction {case.tx_hash} was not found on {case.network} "
                    f"by the deadline {deadline.isoformat()}",
                )
            else:
                case.check_note = (
                    f"transaction not found on {case.network} yet; "
                    f"retrying until {deadline.isoformat()}"
                )
                # A fresh claim is usually a transaction a block or two from being
                # mined: look again at the chain's pace, then back off to `retry`.
                young = (now - case.created_at) / 4
                pace = timedelta(seconds=poll_interval(self.policy.networks[case.network]))
                next_check = now + max(pace, min(self.timing.retry, young))
                waiting = 1
        else:
            outcome = match(case, tx, chain.native)
            if isinstance(outcome, Refused):
                case.transition(
                    CaseStatus.REJECTED,
                    actor=SYSTEM,
                    at=now,
                    reason_code=outcome.reason_code,
                    detail=outcome.detail,
                )
            else:
                next_check = self._judge(case, outcome, chain, metadata, now)
        return next_check, waiting

    def _judge(
        self,
        case: Case,
        found: Matched,
        chain: _ChainFacts,
        metadata: TokenMetadata | None,
        now: datetime,
    ) -> datetime | None:
        code, refund_code = chain.deposit_code, chain.refund_code
        network = self.policy.networks[case.network]
        listed = network.listed(None if found.token == NATIVE else found.token)
        decimals = listed.decimals if listed else sane_decimals(metadata)
        symbol = listed.symbol if listed else (metadata.symbol if metadata else None)
        case.facts = {
            "token": found.token,
            "log_token": found.log_token,
            "symbol": symbol,
            "decimals": decimals,
            "amount": str(found.amount),
            "sender": found.sender,
            "log_index": found.log_index,
            "log_indexes": list(found.log_indexes),
            "transfers": [{"log_index": i, "amount": str(v)} for i, v in found.parts],
            "internal_transfer": found.internal,
            "block_number": found.block_number,
            "block_hash": found.block_hash,
            "deposit_address_is_contract": None if code is None else code.has_code,
            "deposit_address_code": None if code is None else code.kind,
            "deposit_address_delegate": None if code is None else code.delegate,
            "refund_address_is_contract": None if refund_code is None else refund_code.has_code,
            "confirmations": None,
            "checked_at": now.isoformat(),
        }
        case.log_index = found.log_index
        case.log_indexes = found.log_indexes
        case.check_note = None
        if case.proven_by is not None and case.proven_by.lower() != found.sender.lower():
            # A proof given before verification (a found deposit's claim) names the sender
            # the scan saw; it holds only if the chain still says so.
            case.proven_by = None
        verdict = self._verdict(case, now)
        case.verdict = verdict_dict(verdict)
        case.policy_version = self.policy.version
        if not verdict.eligible:
            case.transition(
                CaseStatus.REJECTED,
                actor=SYSTEM,
                at=now,
                reason_code=verdict.reason_codes[0] if verdict.reason_codes else None,
                detail=verdict.summary,
            )
            return None
        case.transition(
            CaseStatus.CONFIRMING,
            actor=SYSTEM,
            at=now,
            detail=f"found {found.amount} base units of {symbol or found.token} from "
            f"{found.sender} in block {found.block_number}; waiting for "
            f"{network.confirmations} confirmations",
        )
        return now

    def _verdict(self, case: Case, now: datetime) -> Verdict:
        return judge_case(self.policy, case, now=now)

    # -- confirmations and reorgs -------------------------------------------------------

    def confirm_cycle(
        self, networks: Collection[str] | None = None, limit: int | None = None
    ) -> CycleReport:
        """One head per network and one batched block-hash lookup for the distinct blocks.

        Confirming cases move to `quoted` at their network's confirmations. When a
        watched deposit's block is reorged away, a confirming, quoted or in-review case
        goes back to `verifying` (its quote and approvals no longer stand) and an approved
        one goes `on_hold`. `networks` limits the cycle (None: all of them).
        """
        report = CycleReport()
        now = self.clock()
        by_network = self._claim(WATCHED, now, limit or self.batch_size or 10_000, report, networks)
        for network, cases in by_network.items():
            adapter = self.adapters.get(network)
            if adapter is None:
                self._leave(cases, f"no RPC endpoint is configured for {network}", now, report)
                continue
            blocks = sorted({b for c in cases if (b := _block_of(c)) is not None})
            try:
                # Head and hashes from one endpoint, one that is not behind: a lagging
                # node's "no such block" is never mistaken for a reorg.
                view = adapter.head_view(blocks)
            except NodesBehind as exc:
                report.rpc_errors[network] += 1
                log.warning("confirming %d cases on %s: %s", len(cases), network, exc)
                seen = f"no {network} node answers at block {exc.highest_head}, the head seen"
                self._leave(cases, f"{seen} before; waiting for one to catch up", now, report)
                continue
            except ChainError as exc:
                report.rpc_errors[network] += 1
                log.warning(
                    "confirming %d cases on %s (first %s): RPC unavailable: %s",
                    len(cases),
                    network,
                    cases[0].reference,
                    exc,
                )
                self._leave(cases, _unavailable(network, exc), now, report)
                continue
            head, hashes = view.head, view.block_hashes
            steady, moving = self._steady(cases, head, hashes, now)
            try:
                self._record_steady(network, steady, now, report)
            except Exception:
                # The batch write failed as a whole: give each case the full path instead.
                log.exception("recording %d watched cases on %s failed", len(steady), network)
                moving = cases
            for case in moving:
                try:
                    self._confirm_one(case, head, hashes, report)
                except StaleCase:
                    self._conflict(case, report)
                except ChainError as exc:
                    # The payout check before a quote reads the chain too: an outage there
                    # leaves the case where it is, as any other RPC failure does.
                    report.rpc_errors[network] += 1
                    log.warning("confirming case %s: %s RPC: %s", case.reference, network, exc)
                    self._leave([case], _unavailable(network, exc), now, report)
                except Exception:
                    report.errors += 1
                    log.exception("confirming case %s failed", case.reference)
                    self._leave([case], "an internal error stopped the check", now, report)
        return report

    def _steady(
        self, cases: list[Case], head: int, hashes: Mapping[int, str | None], now: datetime
    ) -> tuple[list[WatchProgress], list[Case]]:
        """Split claimed cases into those that stay where they are and those that move.

        Most watched cases only gain a confirmation per cycle; they are written together
        in one transaction (`record_progress`) instead of one transaction each, so that
        the database, like the chain, is not visited once per case. Anything else (a
        reorg, enough confirmations, odd facts) takes the per-case path.
        """
        steady: list[WatchProgress] = []
        moving: list[Case] = []
        for case in cases:
            block = _block_of(case)
            found = hashes.get(block) if block is not None else None
            expected = str((case.facts or {}).get("block_hash", "")).lower()
            if block is None or found is None or found.lower() != expected:
                moving.append(case)
                continue
            network = self.policy.networks[case.network]
            if case.status in SETTLED:
                steady.append(WatchProgress(case.id, case.version, None, None))
                continue
            confirmations = max(0, head - block + 1)
            if case.status != CaseStatus.CONFIRMING or confirmations >= network.confirmations:
                moving.append(case)
                continue
            note = f"{confirmations} of {network.confirmations} confirmations on {case.network}"
            facts = {**(case.facts or {}), "confirmations": confirmations}
            unchanged = note == case.check_note and facts == case.facts
            steady.append(WatchProgress(case.id, case.version, None if unchanged else facts, note))
        return steady, moving

    def _record_steady(
        self, network: str, steady: list[WatchProgress], now: datetime, report: CycleReport
    ) -> None:
        if not steady:
            return
        with self.database.unit_of_work() as session:
            lost = record_progress(
                session,
                steady,
                owner=self.owner,
                next_check_at=next_look(now, self.policy.networks[network]),
                retry_at=now,
            )
        report.waiting += len(steady) - lost
        report.conflicts += lost

    def _confirm_one(
        self, snapshot: Case, head: int, hashes: Mapping[int, str | None], report: CycleReport
    ) -> None:
        now = self.clock()
        with self.database.unit_of_work() as session:
            repository = CaseRepository(session)
            case = repository.get(snapshot.id)
            block = _block_of(case) if case is not None else None
            if case is None or case.status not in WATCHED or block is None or not case.facts:
                release(session, snapshot.id, owner=self.owner, next_check_at=None)
                return
            network = self.policy.networks[case.network]
            facts = dict(case.facts)
            expected = str(facts["block_hash"]).lower()
            found = hashes.get(block)
            if found is None:
                # The node's head is below the block: a lagging endpoint, or a chain
                # rewound to a lower height. Neither proves the deposit gone; once the
                # chain grows past it again the hash at that height decides.
                case.check_note = (
                    f"the {case.network} node is at block {head}, below the deposit's block "
                    f"{block}; waiting for it to catch up"
                )
                report.waiting += 1
                write = (
                    case.status == CaseStatus.CONFIRMING and case.check_note != snapshot.check_note
                )
                self._save(session, repository, case, report, next_look(now, network), write=write)
                return
            if found.lower() != expected:
                self._reorged(case, block, expected, found, now)
                self._save(session, repository, case, report, now)
                return
            if case.status in SETTLED:
                # Still where it was: nothing to write, so the user's, the reviewers' and
                # the payout engine's writes never meet a version bumped by this watch.
                self._save(session, repository, case, report, next_look(now, network), write=False)
                return
            confirmations = max(0, head - block + 1)
            facts["confirmations"] = confirmations
            case.facts = facts
            next_check: datetime | None = None
            if confirmations >= network.confirmations:
                verdict = self._verdict(case, now)
                case.verdict = verdict_dict(verdict)
                case.check_note = None
                held = self._payout_preflight(session, case)
                routed = describe(route_case(self.policy, case))
                if held is not None:
                    case.transition(
                        CaseStatus.IN_REVIEW,
                        actor=SYSTEM,
                        at=now,
                        reason_code=held[0],
                        detail=f"{confirmations} of {network.confirmations} confirmations on "
                        f"{case.network}; no quote: {held[1]}; {routed}",
                    )
                    case.check_note = held[1]
                    self._save(session, repository, case, report, None)
                    return
                quote = issue_quote(session, case, now=now)
                case.transition(
                    CaseStatus.QUOTED,
                    actor=SYSTEM,
                    at=now,
                    detail=f"{confirmations} of {network.confirmations} confirmations on "
                    f"{case.network}; quote {quote.id} ready: fee {quote.fee_amount}, net "
                    f"payout {quote.net_amount} base units; {routed}",
                )
            else:
                case.check_note = (
                    f"{confirmations} of {network.confirmations} confirmations on {case.network}"
                )
                next_check = next_look(now, network)
                report.waiting += 1
            self._save(session, repository, case, report, next_check)

    def _payout_preflight(self, session: Any, case: Case) -> tuple[str, str] | None:
        """Before a quote: would the payout the quote promises succeed, and what arrives?

        Returns a reason code and the figures when the case must go to a reviewer instead
        (the deposit's balance is short, or the payout would revert or return false); else
        adds what the refund address would really receive to the verdict's quote.
        """
        quote = (case.verdict or {}).get("quote")
        adapter = self.adapters.get(case.network)
        if not quote or not isinstance(adapter, EvmAdapter) or not case.facts:
            return None
        claim = Claim(
            case_id=case.id,
            number=case.number or 0,
            network=case.network,
            deposit_address=case.deposit_address,
            token=str(case.facts.get("token", case.token)),
            amount=int(case.facts.get("amount", 0)),
            refund_address=case.refund_address,
        )
        net = int(quote["net_amount"])
        checked = preflight(session, adapter, claim, payout_amount=net)
        log_token = case.facts.get("log_token")
        if log_token:
            checked = self._front_or_ledger(session, adapter, case, claim, checked, net)
        if not checked.passed:
            code = checked.reason_code or ""
            condition = {
                "id": _PREFLIGHT_CONDITIONS.get(code, code),
                "status": "fail",
                "detail": checked.detail,
                "reason_code": code,
            }
            verdict = dict(case.verdict or {})
            others = [c for c in verdict.get("conditions", []) if c.get("id") != condition["id"]]
            # The verdict names what the chain showed; no quote is offered for it.
            case.verdict = {
                **verdict,
                "eligible": False,
                "conditions": [*others, condition],
                "reason_codes": [*verdict.get("reason_codes", []), code],
                "quote": None,
                "summary": f"Held for a reviewer: {checked.detail}.",
            }
            return code, checked.detail
        keeps = checked.token_keeps
        quote = {**quote, "received_amount": str(net - keeps), "token_keeps_amount": str(keeps)}
        if keeps:
            quote["notes"] = [
                *quote.get("notes", []),
                f"the token keeps {keeps} base units of every payout of {net}: the refund "
                f"address receives {net - keeps}",
            ]
        case.verdict = {**(case.verdict or {}), "quote": quote}
        return None

    def _front_or_ledger(
        self,
        session: Any,
        adapter: EvmAdapter,
        case: Case,
        claim: Claim,
        checked: Preflight,
        net: int,
    ) -> Preflight:
        """A token reached through a front: the simulation decides which address to call.

        The front (the token the user named) is tried first; when its transfer would fail,
        the contract that emitted the deposit's Transfer logs is tried. The verdict names
        both, and which one the payout calls.
        """
        facts = dict(case.facts or {})
        front, ledger = claim.token, str(facts["log_token"])
        chosen, other = front, ledger
        if not checked.passed and checked.reason_code == "token_not_transferable":
            alternative = preflight(
                session,
                adapter,
                replace(claim, token=ledger),
                payout_amount=net,
            )
            if alternative.passed:
                checked, chosen, other = alternative, ledger, front
        facts["payout_token"] = chosen
        case.facts = facts
        passed = checked.passed
        condition = {
            "id": "token_contract",
            "status": "pass" if passed else "fail",
            "detail": (
                f"the deposit's Transfer logs were emitted by {ledger}, not by {front}, the "
                f"token named; the payout calls {chosen}"
                + (f" (a transfer through {other} would fail)" if chosen == ledger else "")
                if passed
                else f"the deposit's Transfer logs were emitted by {ledger}, not by {front}; "
                "a payout through either would fail"
            ),
            "reason_code": None if passed else "token_not_transferable",
        }
        verdict = dict(case.verdict or {})
        others = [c for c in verdict.get("conditions", []) if c.get("id") != "token_contract"]
        case.verdict = {**verdict, "conditions": [*others, condition]}
        return checked

    def _reorged(self, case: Case, block: int, expected: str, found: str, now: datetime) -> None:
        """The deposit's block is no longer on the chain: look the transaction up again."""
        where = (
            f"block {block} on {case.network} is no longer {expected} (now {found}); "
            f"transaction {case.tx_hash} may have been reorged out"
        )
        # The deadline for finding the transaction again runs from now, not from filing.
        case.facts = {**(case.facts or {}), "confirmations": None, "reorged_at": now.isoformat()}
        case.check_note = None
        if case.status == CaseStatus.APPROVED:
            case.transition(
                CaseStatus.ON_HOLD,
                actor=SYSTEM,
                at=now,
                reason_code="reorged",
                detail=f"{where}; the case is on hold and is verified again before any payout",
            )
        else:
            case.transition(
                CaseStatus.VERIFYING,
                actor=SYSTEM,
                at=now,
                reason_code="reorged",
                detail=f"{where}; looking the transaction up again",
            )
            case.log_index = None
            # Transfers found in the vanished block are let go; named ones stay claimed.
            case.log_indexes = case.filed_transfers()
            # A quote or approvals given on the vanished deposit no longer stand.
            case.approvals = []
            case.reviewer = None
            case.deadline_at = None

    # -- shared -------------------------------------------------------------------------

    def _claim(
        self,
        statuses: tuple[CaseStatus, ...],
        now: datetime,
        limit: int,
        report: CycleReport,
        networks: Collection[str] | None,
    ) -> dict[str, list[Case]]:
        with self.database.unit_of_work() as session:
            ids = claim_due(
                session,
                statuses=statuses,
                owner=self.owner,
                now=now,
                lease=self.timing.lease,
                limit=limit,
                networks=networks,
            )
            cases = CaseRepository(session).by_ids(ids) if ids else []
        report.claimed += len(cases)
        by_network: dict[str, list[Case]] = defaultdict(list)
        for case in sorted(cases, key=lambda c: c.number or 0):
            by_network[case.network].append(case)
        return by_network

    def _save(
        self,
        session: Any,
        repository: CaseRepository,
        case: Case,
        report: CycleReport,
        next_check: datetime | None,
        *,
        write: bool = True,
    ) -> None:
        """Write the case (unless told nothing changed) and give its lease back."""
        moved = [e.to_status.value for e in case.pending_events]
        try:
            if write or moved:
                with session.begin_nested():
                    repository.save(case)
        except (IntegrityError, DuplicateClaim):
            # Another live case already holds this very log: this claim is the duplicate.
            fresh = repository.get(case.id)
            assert fresh is not None
            if fresh.status in (CaseStatus.SUBMITTED, CaseStatus.ON_HOLD):
                fresh.transition(CaseStatus.VERIFYING, actor=SYSTEM, at=self.clock())
            fresh.transition(
                CaseStatus.REJECTED,
                actor=SYSTEM,
                at=self.clock(),
                reason_code="duplicate_claim",
                detail=f"another live case already holds a transfer this claim covers (log "
                f"indexes {', '.join(map(str, case.log_indexes))} of transaction {case.tx_hash})",
            )
            repository.save(fresh)
            moved, next_check = ["rejected"], None
        for status in moved:
            report.moved[status] += 1
        release(session, case.id, owner=self.owner, next_check_at=next_check)

    def _leave(self, cases: list[Case], note: str, now: datetime, report: CycleReport) -> None:
        """Leave cases where they are, say why on each, and try again later."""
        with self.database.unit_of_work() as session:
            repository = CaseRepository(session)
            for snapshot in cases:
                case = repository.get(snapshot.id)
                if case is None:
                    continue
                # Only a case still being checked shows the note; an approved one is
                # merely watched, and its writes belong to the review and payout steps.
                if case.status in (*TO_VERIFY, CaseStatus.CONFIRMING) and case.check_note != note:
                    case.check_note = note
                    repository.save(case)
                release(session, case.id, owner=self.owner, next_check_at=now + self.timing.retry)
                report.waiting += 1

    def _conflict(self, snapshot: Case, report: CycleReport) -> None:
        """Someone else changed the case while this process checked it: theirs stands."""
        report.conflicts += 1
        log.info(
            "case %s changed while being checked; looking again next cycle", snapshot.reference
        )
        with self.database.unit_of_work() as session:
            release(session, snapshot.id, owner=self.owner, next_check_at=self.clock())


# The verdict condition each pre-quote payout check fails.
_PREFLIGHT_CONDITIONS = {
    "token_not_transferable": "token_transferable",
    "deposit_balance_short": "deposit_balance_covers",
}


def _chunks(items: Sequence[_T], size: int) -> list[Sequence[_T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _block_of(case: Case) -> int | None:
    """The block number holding the case's deposit, None before it was found."""
    number = (case.facts or {}).get("block_number")
    return int(number) if number is not None and (case.facts or {}).get("block_hash") else None


def _looking_since(case: Case) -> datetime:
    """Since when the transaction is being looked for: filing, or the latest reorg."""
    reorged_at = (case.facts or {}).get("reorged_at")
    return (
        max(case.created_at, datetime.fromisoformat(reorged_at)) if reorged_at else case.created_at
    )
