"""Verifying claims through the service's batched path against a one-claim-at-a-time web3 loop.

    .venv/bin/python -m benchmarks.verify_cycle [--claims 1000] [--repeat 3]

Starts one anvil node (`bsc`, chain id 56), makes `--claims` real transfers of a 6-decimals
USDT-like token to distinct deposit addresses, and files one `wrong_network` claim (bsc ->
ethereum, the token, the exact amount) per transfer into a migrated SQLite file. Each
repeat works on a fresh copy of that file and runs, in the same process:

(a) `Checker.verify_cycle()`, the service's path: lease the due claims, one batched
    `transactions` and one batched `account_codes` per network, token metadata once, then per
    claim the match, the policy verdict, the transitions, their events and the
    version-checked write. Every claim must end `confirming`;
(c) the chain reads inside (a) alone (time spent in the adapter calls), to show where the
    time of (a) goes;
(b) a plain web3 loop, per claim `get_transaction` + `get_transaction_receipt` +
    `get_code(deposit)`: the chain reads the service needs per claim, and nothing else (no
    matching, no verdict, no database writes), which flatters it.

Prints the medians, the RPC requests (a JSON-RPC batch counts once) and the ratio (b)/(a).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import func, select
from web3 import HTTPProvider, Web3

from chains.base import AccountCode, TokenMetadata, TransactionFacts
from chains.devnet import AnvilNode, DevnetChain
from chains.devnet.artifacts import load
from chains.evm import EvmAdapter
from chains.evm.addresses import checksum
from policies import Policy, load_policy
from recovery.appeals.repository import CaseRepository
from recovery.db.engine import Database, make_engine
from recovery.db.migrate import upgrade
from recovery.db.tables import CaseEventRow, CaseRow
from recovery.domain.case import Case, CaseType
from recovery.domain.states import CaseStatus
from recovery.verification.service import Checker

NETWORK, CHAIN_ID, OPENED_FOR = "bsc", 56, "ethereum"
REFUND = "0x2222222222222222222222222222222222222222"
TARGET = 5.0
T = TypeVar("T")


@dataclass(frozen=True)
class Transfer:
    tx_hash: str
    deposit: str
    value: int


class TimedAdapter(EvmAdapter):
    """An EvmAdapter that adds up the time spent in the reads the verification cycle makes."""

    def __init__(self, network: str, endpoints: Sequence[str]) -> None:
        super().__init__(network, endpoints)
        self.read_seconds = 0.0

    def _timed(self, read: Callable[[], T]) -> T:
        started = time.perf_counter()
        try:
            return read()
        finally:
            self.read_seconds += time.perf_counter() - started

    def transactions(self, hashes: Sequence[str]) -> dict[str, TransactionFacts | None]:
        return self._timed(lambda: super(TimedAdapter, self).transactions(hashes))

    def account_codes(self, addresses: Sequence[str]) -> dict[str, AccountCode]:
        return self._timed(lambda: super(TimedAdapter, self).account_codes(addresses))

    def token_metadata(self, token: str) -> TokenMetadata:
        return self._timed(lambda: super(TimedAdapter, self).token_metadata(token))


def make_transfers(chain: DevnetChain, count: int) -> tuple[str, list[Transfer]]:
    """Deploy a 6-decimals token and mine `count` transfers to distinct deposit addresses."""
    token = chain.deploy_token(symbol="USDT", name="Tether USD", decimals=6)
    sender = chain.accounts[0]
    chain.mint(token, sender, 10**18)
    artifact = load("TestToken")
    # 100 USDT and up: well above every minimum of the policy, so each claim is eligible.
    planned = [(checksum(f"0x{0xDE0000 + i:040x}"), 100_000_000 + i) for i in range(count)]
    txs = [
        {
            "from": sender,
            "to": token,
            "gas": hex(100_000),
            "data": artifact.call_data("transfer", deposit, value),
        }
        for deposit, value in planned
    ]
    # Automine off: the node takes the whole batch into its pool, then seals it at once.
    chain.set_automine(False)
    hashes = chain.send_many(txs)
    chain.mine(1 + count // 500)
    chain.wait_mined(hashes)
    chain.set_automine(True)
    chain.mine(2)  # a few blocks on top, as a live chain would have
    return token, [Transfer(h, d, v) for h, (d, v) in zip(hashes, planned, strict=True)]


def file_claims(path: Path, token: str, transfers: Sequence[Transfer]) -> None:
    """A migrated SQLite file holding one submitted claim per transfer, filed a minute ago."""
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    filed = datetime.now(UTC) - timedelta(minutes=1)
    with Database(engine).unit_of_work() as session:
        repository = CaseRepository(session)
        for transfer in transfers:
            case = Case(
                id=str(uuid.uuid4()),
                claimant="alice",
                case_type=CaseType.WRONG_NETWORK,
                network=NETWORK,
                opened_for=OPENED_FOR,
                tx_hash=transfer.tx_hash,
                token=token,
                deposit_address=transfer.deposit,
                refund_address=REFUND,
                claimed_amount=transfer.value,
                status=CaseStatus.SUBMITTED,
                created_at=filed,
                updated_at=filed,
            )
            case.open(actor="user:alice", at=filed)
            repository.add(case)
    engine.dispose()
    # Everything sits in the main file once the last connection closes (no -wal left).
    for suffix in ("-wal", "-shm"):
        leftover = Path(f"{path}{suffix}")
        if leftover.exists() and leftover.stat().st_size:
            raise SystemExit(f"{leftover} was not checkpointed; copies would miss data")


@dataclass(frozen=True)
class CycleRun:
    seconds: float
    read_seconds: float
    calls: int


def time_cycle(template: Path, workdir: Path, url: str, policy: Policy, claims: int) -> CycleRun:
    """Seconds, chain-read seconds and RPC requests of one verify_cycle over a fresh copy."""
    path = workdir / f"run-{uuid.uuid4().hex[:8]}.db"
    shutil.copyfile(template, path)
    engine = make_engine(f"sqlite:///{path}")
    database = Database(engine)
    try:
        adapter = TimedAdapter(NETWORK, [url])
        with adapter:
            checker = Checker(
                database, policy, {NETWORK: adapter}, lambda: datetime.now(UTC), batch_size=claims
            )
            started = time.perf_counter()
            report = checker.verify_cycle()
            elapsed = time.perf_counter() - started
            run = CycleRun(elapsed, adapter.read_seconds, adapter.calls)
        if report.claimed != claims or report.moved.get("confirming") != claims or report.errors:
            raise SystemExit(f"the cycle did not verify every claim: {report}")
        with database.unit_of_work() as session:
            confirming = session.scalar(
                select(func.count()).where(
                    CaseRow.status == CaseStatus.CONFIRMING.value,
                    CaseRow.lease_owner.is_(None),
                    CaseRow.facts.is_not(None),
                )
            )
            events = session.scalar(select(func.count()).select_from(CaseEventRow))
        if confirming != claims or events != 3 * claims:
            raise SystemExit(
                f"{confirming} of {claims} claims confirming with {events} events "
                f"(expected {3 * claims}: submitted, verifying, confirming)"
            )
        return run
    finally:
        engine.dispose()
        for leftover in path.parent.glob(f"{path.name}*"):
            leftover.unlink()


def time_web3_loop(url: str, transfers: Sequence[Transfer]) -> tuple[float, int]:
    """Seconds and HTTP requests for a per-claim transaction + receipt + code loop."""
    w3 = Web3(HTTPProvider(url))
    calls = 0
    started = time.perf_counter()
    for transfer in transfers:
        w3.eth.get_transaction(transfer.tx_hash)  # type: ignore[arg-type]
        receipt = w3.eth.get_transaction_receipt(transfer.tx_hash)  # type: ignore[arg-type]
        code = w3.eth.get_code(transfer.deposit)  # type: ignore[arg-type]
        calls += 3
        if receipt["status"] != 1 or not receipt["logs"] or code:
            raise SystemExit(f"web3 loop: {transfer.tx_hash} is not a plain token transfer")
    return time.perf_counter() - started, calls


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the median counts")
    args = parser.parse_args(argv)
    policy = load_policy(overlays=["devnet"])

    # A roomy block gas limit lets one block hold the whole batch of transfers.
    with (
        tempfile.TemporaryDirectory() as tmp,
        AnvilNode(NETWORK, CHAIN_ID, extra_args=["--gas-limit", "1000000000"]) as node,
    ):
        workdir = Path(tmp)
        chain = DevnetChain(NETWORK, node.url)
        started = time.perf_counter()
        token, transfers = make_transfers(chain, args.claims)
        chain.close()
        template = workdir / "claims.db"
        file_claims(template, token, transfers)
        warmup = workdir / "warmup.db"
        file_claims(warmup, token, transfers[:20])
        print(
            f"made {len(transfers)} USDT-like (6 decimals) transfers on {NETWORK} "
            f"(chain id {CHAIN_ID}, {node.url}) and filed {len(transfers)} wrong_network "
            f"claims {NETWORK} -> {OPENED_FOR} into SQLite in {time.perf_counter() - started:.1f}s"
        )

        # Warm both paths up (imports, statement caches, connection pools).
        time_cycle(warmup, workdir, node.url, policy, 20)
        time_web3_loop(node.url, transfers[:5])

        cycles: list[CycleRun] = []
        loops: list[tuple[float, int]] = []
        for _ in range(args.repeat):
            cycles.append(time_cycle(template, workdir, node.url, policy, args.claims))
            loops.append(time_web3_loop(node.url, transfers))

    report(args.claims, args.repeat, cycles, loops)


def report(
    claims: int, repeat: int, cycles: Sequence[CycleRun], loops: Sequence[tuple[float, int]]
) -> None:
    cycle = statistics.median(r.seconds for r in cycles)
    reads = statistics.median(r.read_seconds for r in cycles)
    database = statistics.median(r.seconds - r.read_seconds for r in cycles)
    loop = statistics.median(t for t, _ in loops)
    cycle_calls, loop_calls = cycles[0].calls, loops[0][1]
    print(f"median of {repeat} runs each, {claims} claims, each run in the same process:")
    print(
        f"(a) Checker.verify_cycle, batched:      {cycle:7.3f}s  {cycle_calls:5d} RPC requests  "
        f"({cycle / claims * 1000:.2f} ms per claim; every claim leased, matched, judged, "
        f"moved submitted -> verifying -> confirming and written with its 2 events)"
    )
    print(
        f"(c)   of which chain reads (adapter):   {reads:7.3f}s  "
        f"(transactions + account_codes + token metadata); the rest (median of (a) - (c) per "
        f"run), {database:.3f}s, is the lease, the per-claim work and the database writes"
    )
    print(
        f"(b) web3 loop, one claim at a time:     {loop:7.3f}s  {loop_calls:5d} RPC requests  "
        f"(get_transaction + get_transaction_receipt + get_code; no matching, no verdict, "
        f"no database writes, which flatters it)"
    )
    print(f"    all runs (a): {_seconds(r.seconds for r in cycles)}")
    print(f"             (c): {_seconds(r.read_seconds for r in cycles)}")
    print(f"             (b): {_seconds(t for t, _ in loops)}")
    ratio = loop / cycle
    print(
        f"the service path is {ratio:.1f}x faster than the loop (target {TARGET:.0f}x: "
        f"{'met' if ratio >= TARGET else 'MISSED'}), with {loop_calls / cycle_calls:.0f}x "
        f"fewer RPC requests; its chain reads alone are {loop / reads:.0f}x faster"
    )


def _seconds(values: Any) -> str:
    return " ".join(f"{v:.3f}" for v in values)


if __name__ == "__main__":
    main()
