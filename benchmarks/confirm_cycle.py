"""One confirmation cycle over 10,000 watched cases on two networks, against a per-case loop.

    .venv/bin/python -m benchmarks.confirm_cycle [--cases 10000] [--blocks 100]

Starts two anvil nodes (ethereum=1, bsc=56), mines blocks on each, and writes `--cases`
`confirming` cases straight into a SQLite file, split over the two networks, whose facts
point at `--blocks` real blocks per network. The policy asks for more confirmations than
the chains have, so every case stays watched (a steady-state cycle). Then:

(a) `Checker.confirm_cycle()` once: per network, one batch from one endpoint holding the
    head and the hashes of the distinct blocks, plus the database writes;
(b) the same reads done per case: a head and a block-hash lookup for every case.

Prints the RPC requests (the adapters' `calls`, a JSON-RPC batch counting once) and the
time of each, and the ratio.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from chains.devnet import DevnetCluster
from policies import load_policy
from recovery.db.engine import Database, make_engine
from recovery.db.migrate import upgrade
from recovery.db.tables import CaseEventRow, CaseRow
from recovery.verification.service import Checker

NETWORKS = {"ethereum": 1, "bsc": 56}
WATCHING_OVERLAY = "\n".join(
    ["networks:", *(f"  {n}:\n    confirmations: 1000000" for n in NETWORKS)]
)


def chain_blocks(cluster: DevnetCluster, blocks: int) -> dict[str, dict[int, str]]:
    """Mine `blocks` + 10 blocks on each node; the hashes of blocks 1..`blocks` per network."""
    found: dict[str, dict[int, str]] = {}
    for network in NETWORKS:
        cluster.chain(network).mine(blocks + 10)
        with cluster.adapter(network) as adapter:
            hashes = adapter.block_hashes(list(range(1, blocks + 1)))
        found[network] = {n: h for n, h in hashes.items() if h is not None}
    return found


def write_cases(database: Database, blocks: dict[str, dict[int, str]], count: int) -> None:
    """`count` confirming cases, alternating networks, spread evenly over the blocks."""
    now = datetime.now(UTC) - timedelta(minutes=1)
    names = sorted(blocks)
    cases: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for i in range(count):
        network = names[i % len(names)]
        numbers = sorted(blocks[network])
        block = numbers[(i // len(names)) % len(numbers)]
        case_id = str(uuid.uuid4())
        cases.append(
            {
                "id": case_id,
                "claimant": "alice",
                "case_type": "wrong_network",
                "network": network,
                "opened_for": names[(i + 1) % len(names)],
                "tx_hash": f"0x{i + 1:064x}",
                "token": "native",
                "deposit_address": f"0x{0xBE0000 + i:040x}",
                "refund_address": "0x2222222222222222222222222222222222222222",
                "claimed_amount": None,
                "status": "confirming",
                "version": 2,
                "last_seq": 3,
                "log_index": -1,
                "facts": {
                    "token": "native",
                    "symbol": "ETH",
                    "decimals": 18,
                    "amount": str(10**18),
                    "sender": "0x3333333333333333333333333333333333333333",
                    "log_index": -1,
                    "block_number": block,
                    "block_hash": blocks[network][block],
                    "deposit_address_is_contract": False,
                    "confirmations": None,
                    "checked_at": now.isoformat(),
                },
                "created_at": now,
                "updated_at": now,
                "next_check_at": now,
            }
        )
        for seq, (source, target) in enumerate(
            [(None, "submitted"), ("submitted", "verifying"), ("verifying", "confirming")], 1
        ):
            events.append(
                {
                    "case_id": case_id,
                    "seq": seq,
                    "from_status": source,
                    "to_status": target,
                    "actor": "system:benchmark",
                    "reason_code": None,
                    "detail": "",
                    "created_at": now,
                }
            )
    with database.unit_of_work() as session:
        session.execute(insert(CaseRow), cases)
        session.execute(insert(CaseEventRow), events)


def per_case_loop(
    cluster: DevnetCluster, watched: Sequence[tuple[str, int, str]]
) -> tuple[float, int]:
    """Seconds and RPC requests to read a head and the block hash for every case alone."""
    adapters = {n: cluster.adapter(n) for n in NETWORKS}
    started = time.perf_counter()
    for network, block, expected in watched:
        adapter = adapters[network]
        adapter.head()
        if adapter.block_hashes([block])[block] != expected:
            raise SystemExit(f"block {block} on {network} changed during the benchmark")
    elapsed = time.perf_counter() - started
    calls = sum(a.calls for a in adapters.values())
    for adapter in adapters.values():
        adapter.close()
    return elapsed, calls


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--blocks", type=int, default=100, help="distinct blocks per network")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp, DevnetCluster(NETWORKS) as cluster:
        overlay = Path(tmp) / "watching.yaml"
        overlay.write_text(WATCHING_OVERLAY + "\n")
        policy = load_policy(overlays=["devnet", overlay])
        engine = make_engine(f"sqlite:///{Path(tmp) / 'recovery.db'}")
        upgrade(engine)
        database = Database(engine)
        blocks = chain_blocks(cluster, args.blocks)
        write_cases(database, blocks, args.cases)
        distinct = sum(len(b) for b in blocks.values())
        print(
            f"{args.cases} confirming cases on {len(NETWORKS)} networks over {distinct} "
            f"distinct blocks, SQLite file {Path(tmp) / 'recovery.db'}"
        )

        adapters = {n: cluster.adapter(n) for n in NETWORKS}
        checker = Checker(database, policy, adapters, lambda: datetime.now(UTC))
        started = time.perf_counter()
        report = checker.confirm_cycle(limit=args.cases)
        cycle_seconds = time.perf_counter() - started
        cycle_calls = sum(a.calls for a in adapters.values())
        if report.claimed != args.cases or report.waiting != args.cases or report.errors:
            raise SystemExit(f"the cycle did not watch every case: {report}")
        with database.unit_of_work() as session:
            noted = session.scalar(
                select(func.count()).where(
                    CaseRow.check_note.like("% of 1000000 confirmations on %"),
                    CaseRow.version == 3,
                    CaseRow.lease_owner.is_(None),
                )
            )
        if noted != args.cases:
            raise SystemExit(f"only {noted} of {args.cases} cases show their confirmations")

        # The cycle's chain reads alone, to compare like with like against the loop.
        started = time.perf_counter()
        for network, adapter in adapters.items():
            adapter.head_view(sorted(blocks[network]))
        reads_seconds = time.perf_counter() - started
        batch_size = max(a.batch_size for a in adapters.values())
        for adapter in adapters.values():
            adapter.close()

        watched = []
        names = sorted(blocks)
        for i in range(args.cases):
            network = names[i % len(names)]
            numbers = sorted(blocks[network])
            block = numbers[(i // len(names)) % len(numbers)]
            watched.append((network, block, blocks[network][block]))
        loop_seconds, loop_calls = per_case_loop(cluster, watched)
        engine.dispose()

    bound = len(NETWORKS) + sum(math.ceil(len(b) / batch_size) for b in blocks.values())
    print(
        f"(a) confirm_cycle, batched:  {cycle_calls} RPC requests; "
        f"whole cycle {cycle_seconds:.2f}s "
        f"({cycle_seconds / args.cases * 1000:.2f} ms per case, database included), "
        f"its chain reads alone {reads_seconds * 1000:.1f} ms"
    )
    print(f"(b) per case, head + hash:   {loop_calls} RPC requests in {loop_seconds:.2f}s")
    print(
        f"target: at most networks + distinct blocks / batch size = {len(NETWORKS)} + "
        f"{bound - len(NETWORKS)} = {bound} (+ a small constant) -> "
        f"{'met' if cycle_calls <= bound + 2 else 'MISSED'}"
    )
    print(
        f"batched makes {loop_calls / cycle_calls:.0f}x fewer RPC requests "
        f"(target 20x: {'met' if loop_calls >= 20 * cycle_calls else 'MISSED'}); its reads are "
        f"{loop_seconds / reads_seconds:.0f}x faster than the loop's"
    )


if __name__ == "__main__":
    main()
