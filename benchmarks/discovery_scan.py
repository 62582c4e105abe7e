"""Discovery's scan of a block range against one `eth_getLogs` per address, on two anvil nodes.

    .venv/bin/python -m benchmarks.discovery_scan [--addresses 100000] [--blocks 1000]
        [--transfers 300] [--baseline-sample 2000]

Registers N deposit addresses (half opened for ethereum, half for bsc) in a SQLite file,
and on each of two fresh anvil nodes mines a range of blocks with token transfers and
native sends scattered over it: half to registered addresses (every one a mis-sent
deposit: the token is unlisted, the coin goes over a network the address was not opened
for), half to addresses nobody registered. Then, in the same process:

- (a) the discovery job, one cycle per network over the whole range, with the recipient
  topic in chunks of 1,000 addresses (OR-lists);
- (b) the same with the range's whole `Transfer` log set matched here (what the job
  does once the chunks outnumber `discovery_whole_range_after`);
- (c) the per-address baseline: one `eth_getLogs` per address over the range. It is
  timed on a sample of addresses and scaled to all of them (its request count is exact:
  one per address per network).

Prints requests, seconds and finds per way, and the ratios to the baseline.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import delete, insert

from chains.devnet import AnvilNode, DevnetChain
from chains.devnet.artifacts import load
from chains.evm import EvmAdapter
from chains.evm.addresses import checksum
from chains.evm.discovery import address_topic
from chains.evm.transfers import TRANSFER_TOPIC
from policies import load_policy
from recovery.db.engine import Database, make_engine
from recovery.db.migrate import upgrade
from recovery.db.tables import DepositAddressRow, DiscoveryCheckpointRow, FoundDepositRow
from recovery.discovery.scan import Discoverer, DiscoveryTiming

NETWORKS = {"ethereum": 1, "bsc": 56}
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def address(i: int) -> str:
    """The i-th benchmark deposit address (deterministic, spread over the address space)."""
    return checksum("0x" + hashlib.sha256(f"deposit-{i}".encode()).hexdigest()[:40])


@dataclass
class Range:
    """The blocks a network's transfers were mined in, and how many of them are mistakes."""

    first: int
    last: int
    expected: int


def make_range(
    chain: DevnetChain, network: str, addresses: int, blocks: int, transfers: int, seed: int
) -> Range:
    """Mine `blocks` blocks with `transfers` token transfers and a tenth as many native
    sends scattered over them; return the range and the number of mis-sent deposits."""
    rng = random.Random(seed)
    token = chain.deploy_token(symbol="ODD", name="Odd", decimals=18)
    sender = chain.accounts[0]
    chain.mint(token, sender, 10**30)
    artifact = load("TestToken")
    first = chain.head() + 1
    slots = sorted(rng.sample(range(blocks), min(blocks, transfers)))
    expected = 0
    chain.set_automine(False)
    mined = 0
    for slot in slots:
        if slot > mined:
            chain.mine(slot - mined)
            mined = slot
        registered = rng.random() < 0.5
        to = address(rng.randrange(addresses)) if registered else address(addresses + slot)
        txs = [
            {
                "from": sender,
                "to": token,
                "gas": hex(100_000),
                "data": artifact.call_data("transfer", to, 10**18 + slot),
            }
        ]
        expected += registered
        if slot % 10 == 0:
            # Native coin to an address registered for the other network only.
            index = rng.randrange(addresses // 2) * 2 + (1 if network == "ethereum" else 0)
            txs.append({"from": sender, "to": address(index), "value": hex(10**18)})
            expected += 1
        hashes = chain.send_many(txs)
        chain.mine(1)
        chain.wait_mined(hashes)
        mined += 1
    if blocks > mined:
        chain.mine(blocks - mined)
    chain.set_automine(True)
    return Range(first, first + blocks - 1, expected)


def register(database: Database, addresses: int) -> None:
    """N deposit addresses in one executemany: even ones opened for ethereum, odd for bsc."""
    rows = [
        {
            "address": address(i),
            "owner": f"user-{i % 1000}",
            "networks": ["ethereum" if i % 2 == 0 else "bsc"],
            "hd_index": None,
            "created_by": "benchmark",
            "created_at": NOW,
        }
        for i in range(addresses)
    ]
    with database.unit_of_work() as session:
        session.execute(insert(DepositAddressRow), rows)


def scan(
    database: Database,
    adapters: dict[str, EvmAdapter],
    ranges: dict[str, Range],
    *,
    whole_range_after: int,
) -> dict[str, tuple[int, float, int]]:
    """(requests, seconds, finds) of one discovery cycle per network over its range."""
    with database.unit_of_work() as session:
        session.execute(delete(FoundDepositRow))
        session.execute(delete(DiscoveryCheckpointRow))
    policy = load_policy(overlays=["devnet"])
    discoverer = Discoverer(
        database,
        policy,
        adapters,
        lambda: NOW,
        timing=DiscoveryTiming(
            max_range=max(r.last - r.first + 1 for r in ranges.values()),
            whole_range_after=whole_range_after,
            start_blocks={n: r.first for n, r in ranges.items()},
        ),
    )
    results = {}
    for network, block_range in ranges.items():
        started = time.perf_counter()
        report = discoverer.discover_cycle(network)
        elapsed = time.perf_counter() - started
        if report.rpc_errors or report.last != block_range.last:
            raise SystemExit(f"{network}: the scan did not cover the range: {report}")
        results[network] = (report.requests, elapsed, sum(report.found.values()))
    return results


def baseline(url: str, block_range: Range, addresses: Sequence[str]) -> float:
    """Seconds for one `eth_getLogs` per address over the range, one HTTP request each."""
    with httpx.Client(timeout=30.0) as client:
        started = time.perf_counter()
        for i, watched in enumerate(addresses):
            query = {
                "fromBlock": hex(block_range.first),
                "toBlock": hex(block_range.last),
                "topics": [TRANSFER_TOPIC, None, address_topic(watched)],
            }
            body = {"jsonrpc": "2.0", "id": i, "method": "eth_getLogs", "params": [query]}
            reply = client.post(url, json=body).json()
            if "error" in reply:
                raise SystemExit(f"baseline eth_getLogs failed: {reply['error']}")
        return time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addresses", type=int, default=100_000)
    parser.add_argument("--blocks", type=int, default=1000)
    parser.add_argument("--transfers", type=int, default=300, help="token transfers per network")
    parser.add_argument(
        "--baseline-sample", type=int, default=2000, help="addresses the baseline is timed on"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        database = Database(make_engine(f"sqlite:///{Path(folder) / 'bench.db'}"))
        upgrade(database.engine)
        started = time.perf_counter()
        register(database, args.addresses)
        print(
            f"registered {args.addresses} deposit addresses in {time.perf_counter() - started:.1f}s"
        )
        nodes = {n: AnvilNode(n, chain_id) for n, chain_id in NETWORKS.items()}
        for node in nodes.values():
            node.spawn()
        try:
            for node in nodes.values():
                node.wait_ready()
            ranges = {}
            for seed, (network, node) in enumerate(nodes.items()):
                chain = DevnetChain(network, node.url)
                started = time.perf_counter()
                ranges[network] = make_range(
                    chain, network, args.addresses, args.blocks, args.transfers, seed
                )
                chain.close()
                print(
                    f"{network}: {args.blocks} blocks with {args.transfers} token transfers and "
                    f"{ranges[network].expected} mis-sent deposits in "
                    f"{time.perf_counter() - started:.1f}s"
                )
            adapters = {n: EvmAdapter(n, [node.url]) for n, node in nodes.items()}
            chunked = scan(database, adapters, ranges, whole_range_after=10**9)
            whole = scan(database, adapters, ranges, whole_range_after=0)
            sample = [address(i) for i in range(min(args.baseline_sample, args.addresses))]
            per_address = {
                n: baseline(node.url, ranges[n], sample) / len(sample) for n, node in nodes.items()
            }
            for adapter in adapters.values():
                adapter.close()
        finally:
            for node in nodes.values():
                node.stop()
        database.engine.dispose()

    print(f"\n{args.addresses} addresses, {args.blocks} blocks per network, 2 networks")
    print(f"{'way':<34} {'network':<9} {'requests':>9} {'seconds':>9} {'found':>6}")
    for label, results in (
        ("(a) chunked OR-lists of 1,000", chunked),
        ("(b) whole range, matched here", whole),
    ):
        for network, (requests, seconds, found) in results.items():
            print(f"{label:<34} {network:<9} {requests:>9} {seconds:>9.2f} {found:>6}")
    for network, seconds in per_address.items():
        total = seconds * args.addresses
        print(
            f"{'(c) one eth_getLogs per address':<34} {network:<9} {args.addresses:>9} "
            f"{total:>9.1f} {'-':>6}  (timed on {len(sample)}, scaled)"
        )
    for network, block_range in ranges.items():
        for label, results in (("chunked", chunked), ("whole range", whole)):
            requests, seconds, found = results[network]
            if found != block_range.expected:
                print(f"!! {network} {label}: found {found}, expected {block_range.expected}")
            print(
                f"{network} {label}: {args.addresses / requests:.0f}x fewer requests, "
                f"{per_address[network] * args.addresses / seconds:.0f}x less time than the "
                "per-address baseline"
            )


if __name__ == "__main__":
    main()
