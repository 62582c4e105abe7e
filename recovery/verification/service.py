"""The verification and confirmation cycles: batched chain reads, one transaction per case."""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from chains.base import ChainAdapter, ChainError, TokenMetadata, TransactionFacts
from policies import Facts, Policy, StaticPriceSource, evaluate
from recovery.appeals.repository import CaseRepository
from recovery.appeals.verdicts import verdict_dict
from recovery.db.engine import Database
from recovery.domain.case import NATIVE, Case
from recovery.domain.states import CaseStatus
from recovery.review.quotes import issue_quote
from recovery.verification.claims import claim_due, release
from recovery.verification.matching import Matched, Refused, match

log = logging.getLogger(__name__)
SYSTEM = "system:verifier"


@dataclass
class CycleReport:
    """What one cycle did, for logs, metrics and tests."""

    claimed: int = 0
    moved: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    waiting: int = 0
    errors: int = 0
    rpc_errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@dataclass(frozen=True)
class CheckTiming:
    """How long to wait: the deadline for an unseen transaction, and retry intervals."""

    deadline: timedelta = timedelta(hours=6)
    retry: timedelta = timedelta(seconds=15)
    lease: timedelta = timedelta(seconds=60)


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
    ) -> None:
        self.database = database
        self.policy = policy
        self.adapters = adapters
        self.clock = clock
        self.timing = timing or CheckTiming()
        self.owner = owner or f"worker-{uuid.uuid4().hex[:12]}"
        self._metadata: dict[tuple[str, str], TokenMetadata] = {}

    # -- verification -------------------------------------------------------------------

    def verify_cycle(self, limit: int = 1000) -> CycleReport:
        """Look up every due submitted/verifying claim on its chain and move it on."""
        report = CycleReport()
        now = self.clock()
        by_network = self._claim([CaseStatus.SUBMITTED, CaseStatus.VERIFYING], now, limit, report)
        for network, cases in by_network.items():
            adapter = self.adapters.get(network)
            if adapter is None:
                self._leave(cases, f"no RPC endpoint is configured for {network}", now, report)
                continue
            try:
                found = adapter.transactions([c.tx_hash for c in cases])
                contracts = adapter.has_code(sorted({c.deposit_address for c in cases}))
            except ChainError as exc:
                report.rpc_errors[network] += 1
                self._leave(cases, f"{network} RPC unavailable: {exc}", now, report)
                continue
            for case in cases:
                try:
                    tx = found.get(case.tx_hash)
                    metadata = self._token_metadata(adapter, case, tx)
                    self._verify_one(
                        case, tx, contracts.get(case.deposit_address), metadata, report
                    )
                except ChainError as exc:
                    report.rpc_errors[network] += 1
                    self._leave([case], f"{network} RPC unavailable: {exc}", now, report)
                except Exception:
                    report.errors += 1
                    log.exception("verifying case %s failed", case.reference)
                    self._leave([case], "an internal error stopped the check", now, report)
        return report

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
        tx: TransactionFacts | None,
        is_contract: bool | None,
        metadata: TokenMetadata | None,
        report: CycleReport,
    ) -> None:
        now = self.clock()
        with self.database.unit_of_work() as session:
            repository = CaseRepository(session)
            case = repository.get(snapshot.id)
            if case is None or case.status not in (CaseStatus.SUBMITTED, CaseStatus.VERIFYING):
                release(session, snapshot.id, owner=self.owner, next_check_at=None)
                return
            if case.status == CaseStatus.SUBMITTED:
                case.transition(
                    CaseStatus.VERIFYING,
                    actor=SYSTEM,
                    at=now,
                    detail=f"looking transaction {case.tx_hash} up on {case.network}",
                )
            next_check: datetime | None = None
            if tx is None:
                deadline = case.created_at + self.timing.deadline
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
                    next_check = now + self.timing.retry
                    report.waiting += 1
            else:
                outcome = match(case, tx)
                if isinstance(outcome, Refused):
                    case.transition(
                        CaseStatus.REJECTED,
                        actor=SYSTEM,
                        at=now,
                        reason_code=outcome.reason_code,
                        detail=outcome.detail,
                    )
                else:
                    next_check = self._judge(case, outcome, is_contract, metadata, now)
            self._save(session, repository, case, report, next_check)

    def _judge(
        self,
        case: Case,
        found: Matched,
        is_contract: bool | None,
        metadata: TokenMetadata | None,
        now: datetime,
    ) -> datetime | None:
        network = self.policy.networks[case.network]
        listed = network.listed(None if found.token == NATIVE else found.token)
        decimals = listed.decimals if listed else (metadata.decimals if metadata else None)
        symbol = listed.symbol if listed else (metadata.symbol if metadata else None)
        case.facts = {
            "token": found.token,
            "symbol": symbol,
            "decimals": decimals,
            "amount": str(found.amount),
            "sender": found.sender,
            "log_index": found.log_index,
            "block_number": found.block_number,
            "block_hash": found.block_hash,
            "deposit_address_is_contract": is_contract,
            "confirmations": None,
            "checked_at": now.isoformat(),
        }
        case.log_index = found.log_index
        case.check_note = None
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

    def _verdict(self, case: Case, now: datetime) -> Any:
        facts = case.facts or {}
        return evaluate(
            Facts(
                case_type=case.case_type.value,
                network=case.network,
                opened_for=case.opened_for,
                token=None if facts.get("token") == NATIVE else facts.get("token"),
                token_decimals=facts.get("decimals"),
                amount=int(facts.get("amount", 0)),
                deposit_address_is_contract=facts.get("deposit_address_is_contract"),
                sender=facts.get("sender"),
                refund_address=case.refund_address,
                now=now,
            ),
            self.policy,
            StaticPriceSource(self.policy),
        )

    # -- confirmations and reorgs -------------------------------------------------------

    def confirm_cycle(self, limit: int = 10_000) -> CycleReport:
        """One head per network and one batched block-hash lookup for the distinct blocks."""
        report = CycleReport()
        now = self.clock()
        by_network = self._claim([CaseStatus.CONFIRMING], now, limit, report)
        for network, cases in by_network.items():
            adapter = self.adapters.get(network)
            if adapter is None:
                self._leave(cases, f"no RPC endpoint is configured for {network}", now, report)
                continue
            blocks = sorted({int((c.facts or {})["block_number"]) for c in cases})
            try:
                head = adapter.head()
                hashes = adapter.block_hashes(blocks)
            except ChainError as exc:
                report.rpc_errors[network] += 1
                self._leave(cases, f"{network} RPC unavailable: {exc}", now, report)
                continue
            for case in cases:
                try:
                    self._confirm_one(case, head, hashes, report)
                except Exception:
                    report.errors += 1
                    log.exception("confirming case %s failed", case.reference)
                    self._leave([case], "an internal error stopped the check", now, report)
        return report

    def _confirm_one(
        self, snapshot: Case, head: int, hashes: Mapping[int, str | None], report: CycleReport
    ) -> None:
        now = self.clock()
        with self.database.unit_of_work() as session:
            repository = CaseRepository(session)
            case = repository.get(snapshot.id)
            if case is None or case.status != CaseStatus.CONFIRMING or not case.facts:
                release(session, snapshot.id, owner=self.owner, next_check_at=None)
                return
            network = self.policy.networks[case.network]
            block = int(case.facts["block_number"])
            facts = dict(case.facts)
            next_check: datetime | None = None
            if hashes.get(block) != facts["block_hash"]:
                case.transition(
                    CaseStatus.VERIFYING,
                    actor=SYSTEM,
                    at=now,
                    reason_code="reorged",
                    detail=f"block {block} on {case.network} is no longer {facts['block_hash']} "
                    f"(now {hashes.get(block)}); looking the transaction up again",
                )
                case.log_index = None
                next_check = now
            else:
                confirmations = max(0, head - block + 1)
                facts["confirmations"] = confirmations
                case.facts = facts
                if confirmations >= network.confirmations:
                    verdict = self._verdict(case, now)
                    case.verdict = verdict_dict(verdict)
                    case.check_note = None
                    quote = issue_quote(session, case, now=now)
                    case.transition(
                        CaseStatus.QUOTED,
                        actor=SYSTEM,
                        at=now,
                        detail=f"{confirmations} of {network.confirmations} confirmations on "
                        f"{case.network}; quote {quote.id} ready: fee {quote.fee_amount}, net "
                        f"payout {quote.net_amount} base units",
                    )
                else:
                    case.check_note = (
                        f"{confirmations} of {network.confirmations} confirmations on "
                        f"{case.network}"
                    )
                    interval = max(network.block_time_seconds, 1.0)
                    next_check = now + timedelta(seconds=interval)
                    report.waiting += 1
            self._save(session, repository, case, report, next_check)

    # -- shared -------------------------------------------------------------------------

    def _claim(
        self, statuses: list[CaseStatus], now: datetime, limit: int, report: CycleReport
    ) -> dict[str, list[Case]]:
        with self.database.unit_of_work() as session:
            ids = claim_due(
                session,
                statuses=statuses,
                owner=self.owner,
                now=now,
                lease=self.timing.lease,
                limit=limit,
            )
            cases = CaseRepository(session).by_ids(ids) if ids else []
        report.claimed += len(cases)
        by_network: dict[str, list[Case]] = defaultdict(list)
        for case in cases:
            by_network[case.network].append(case)
        return by_network

    def _save(
        self,
        session: Any,
        repository: CaseRepository,
        case: Case,
        report: CycleReport,
        next_check: datetime | None,
    ) -> None:
        moved = [e.to_status.value for e in case.pending_events]
        try:
            with session.begin_nested():
                repository.save(case)
        except IntegrityError:
            # Another live case already holds this very log: this claim is the duplicate.
            fresh = repository.get(case.id)
            assert fresh is not None
            if fresh.status == CaseStatus.SUBMITTED:
                fresh.transition(CaseStatus.VERIFYING, actor=SYSTEM, at=self.clock())
            fresh.transition(
                CaseStatus.REJECTED,
                actor=SYSTEM,
                at=self.clock(),
                reason_code="duplicate_claim",
                detail="another live case already claims this transfer",
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
                case.check_note = note
                repository.save(case)
                release(session, case.id, owner=self.owner, next_check_at=now + self.timing.retry)
                report.waiting += 1
