"""A payout worker that kills itself at a named point, for crash tests.

Run as `python -m tests.recovery.payouts.crash_worker` with CRASH_AT, DATABASE_URL, NOW
and RPC_<NETWORK> in the environment.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from chains.evm.adapter import EvmAdapter
from chains.signers.hd import HdSigner
from policies import load_policy
from recovery.db.engine import Database, make_engine
from recovery.payouts.engine import PayoutEngine

DEV_MNEMONIC = "test test test test test test test test test test test junk"
CRASH_EXIT = 17


def main() -> None:
    crash_at = os.environ["CRASH_AT"]
    database = Database(make_engine(os.environ["DATABASE_URL"]))
    adapters = {
        network: EvmAdapter(network, [os.environ[f"RPC_{network.upper()}"]])
        for network in ("ethereum", "bsc")
    }
    clock_now = datetime.fromisoformat(os.environ["NOW"])

    def crash(point: str) -> None:
        if point == crash_at:
            os._exit(CRASH_EXIT)

    engine = PayoutEngine(
        database,
        load_policy(overlays=["devnet"]),
        adapters,
        HdSigner(DEV_MNEMONIC, devnet_chain_ids=frozenset({1, 56})),
        lambda: clock_now,
        crash_hook=crash,
    )
    for _ in range(5):
        engine.payout_cycle()
    raise SystemExit(f"never reached {crash_at} (now {datetime.now(UTC).isoformat()})")


if __name__ == "__main__":
    main()
