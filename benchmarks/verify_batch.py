"""Batched verification against a one-claim-at-a-time web3 loop, on one local anvil node.

    .venv/bin/python -m benchmarks.verify_batch [--transfers 1000] [--repeat 3]

Makes N token transfers to deposit addresses, then reads every one of them back twice in
the same process: (a) `EvmAdapter.transactions(all hashes)`, JSON-RPC batches, and (b) a
plain web3 loop, `get_transaction` + `get_transaction_receipt` per hash. Prints the
median times, the RPC request counts and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence

from web3 import HTTPProvider, Web3

from chains.devnet import AnvilNode, DevnetChain
from chains.devnet.artifacts import load
from chains.evm import EvmAdapter


def make_transfers(chain: DevnetChain, count: int) -> tuple[str, list[str]]:
    """Deploy a 6-decimals token and mine `count` transfers to distinct deposit addresses."""
    token = chain.deploy_token(symbol="USDT", name="Tether USD", decimals=6)
    sender = chain.accounts[0]
    chain.mint(token, sender, 10**18)
    artifact = load("TestToken")
    txs = [
        {
            "from": sender,
            "to": token,
            "gas": hex(100_000),
            "data": artifact.call_data("transfer", f"0x{i + 1:040x}", i + 1),
        }
        for i in range(count)
    ]
    # Automine off: the node takes the whole batch into its pool, then seals it at once.
    chain.set_automine(False)
    hashes = chain.send_many(txs)
    chain.mine(1 + count // 500)
    chain.wait_mined(hashes)
    chain.set_automine(True)
    return token, hashes


def time_adapter(url: str, hashes: Sequence[str]) -> tuple[float, int]:
    """Seconds and HTTP requests for one batched `transactions` call."""
    with EvmAdapter("devnet", [url]) as adapter:
        started = time.perf_counter()
        facts = adapter.transactions(hashes)
        elapsed = time.perf_counter() - started
        missing = [h for h, f in facts.items() if f is None or not f.transfers]
        if missing:
            raise SystemExit(f"adapter did not find {len(missing)} transfers, e.g. {missing[0]}")
        return elapsed, adapter.calls


def time_web3_loop(url: str, hashes: Sequence[str]) -> tuple[float, int]:
    """Seconds and HTTP requests for a get_transaction + get_transaction_receipt loop."""
    w3 = Web3(HTTPProvider(url))
    calls = 0
    started = time.perf_counter()
    for tx_hash in hashes:
        w3.eth.get_transaction(tx_hash)
        receipt = w3.eth.get_transaction_receipt(tx_hash)
        calls += 2
        if not receipt["logs"]:
            raise SystemExit(f"web3 loop found no transfer in {tx_hash}")
    return time.perf_counter() - started, calls


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the median counts")
    args = parser.parse_args(argv)

    # A roomy block gas limit lets one block hold the whole batch of transfers.
    with AnvilNode("devnet", 56, extra_args=["--gas-limit", "1000000000"]) as node:
        chain = DevnetChain("devnet", node.url)
        started = time.perf_counter()
        _, hashes = make_transfers(chain, args.transfers)
        setup = time.perf_counter() - started
        print(f"made {len(hashes)} token transfers in {setup:.2f}s on {node.url} (chain id 56)")

        # Warm both paths up (connection pools, imports) so neither pays a first-call cost.
        time_adapter(node.url, hashes[:2])
        time_web3_loop(node.url, hashes[:2])

        batched_runs, looped_runs = [], []
        for _ in range(args.repeat):
            batched_runs.append(time_adapter(node.url, hashes))
            looped_runs.append(time_web3_loop(node.url, hashes))
        chain.close()

    batched = statistics.median(t for t, _ in batched_runs)
    looped = statistics.median(t for t, _ in looped_runs)
    batched_calls, looped_calls = batched_runs[0][1], looped_runs[0][1]
    print(f"median of {args.repeat} runs each, reading {len(hashes)} transactions:")
    print(f"(a) EvmAdapter.transactions, batched: {batched:.3f}s, {batched_calls} HTTP requests")
    print(f"(b) web3 loop, one claim at a time:   {looped:.3f}s, {looped_calls} HTTP requests")
    print(f"    all runs (a): {_seconds(batched_runs)}  (b): {_seconds(looped_runs)}")
    print(
        f"batched is {looped / batched:.1f}x faster "
        f"with {looped_calls // batched_calls}x fewer HTTP requests"
    )


def _seconds(runs: Sequence[tuple[float, int]]) -> str:
    return " ".join(f"{t:.3f}" for t, _ in runs)


if __name__ == "__main__":
    main()
