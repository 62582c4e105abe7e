"""Crash-safety: a worker killed around the broadcast never pays twice, nor a wrong amount."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from recovery.api.context import AppContext
from recovery.db.tables import PayoutTransactionRow
from recovery.payouts.engine import PayoutEngine
from tests.conftest import Clock
from tests.recovery.payouts.crash_worker import CRASH_EXIT
from tests.recovery.payouts.test_payout_flow import approve, run_until_paid, transactions
from tests.recovery.review.conftest import Desk

ROOT = Path(__file__).parents[3]


def crash_worker(context: AppContext, desk: Desk, crash_at: str, clock: Clock) -> int:
    engine = context.database.engine
    url = engine.url.render_as_string(hide_password=False)
    env = {
        **os.environ,
        "CRASH_AT": crash_at,
        "DATABASE_URL": url,
        "NOW": clock.now.isoformat(),
        **{f"RPC_{n.upper()}": u for n, u in desk.devnet.endpoints().items()},
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.recovery.payouts.crash_worker"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == CRASH_EXIT, done.stderr[-2000:]
    return done.returncode


@pytest.mark.parametrize("crash_at", ["after_store", "after_broadcast"])
def test_a_worker_killed_around_the_broadcast_pays_exactly_once(
    paying_desk: tuple[Desk, PayoutEngine],
    context: AppContext,
    clock: Clock,
    crash_at: str,
) -> None:
    desk, engine = paying_desk
    bsc = desk.devnet.chain("bsc")
    refund = "0x8888888888888888888888888888888888888888"
    case = desk.quoted_case(wei=3 * 10**18, sender_index=2, refund=refund)
    net = int(case["verdict"]["quote"]["net_amount"])
    approve(desk, case, 2)
    before = bsc.native_balance(refund)
    sent_before = int(bsc.rpc("eth_getTransactionCount", desk.deposit, "latest"), 16)

    crash_worker(context, desk, crash_at, clock)

    stored = transactions(context)
    assert [row.kind for row in stored] == ["transfer"]
    on_chain = bsc.rpc("eth_getTransactionByHash", stored[0].tx_hash)
    if crash_at == "after_store":
        assert on_chain is None, "stored but never broadcast"
        assert bsc.native_balance(refund) == before
    else:
        assert on_chain is not None, "broadcast, but the database never heard of it"
    assert desk.read(case)["status"] == "payout_pending"

    engine.payout_cycle()
    assert desk.read(case)["status"] == "payout_pending", "the dead worker's lease still holds"
    clock.advance(seconds=121)  # the lease lapses
    run_until_paid(desk, engine, clock, "bsc")  # the restarted worker

    assert desk.read(case)["status"] == "paid"
    assert bsc.native_balance(refund) - before == net
    assert int(desk.read(case)["delivered_amount"]) == net
    sent_after = int(bsc.rpc("eth_getTransactionCount", desk.deposit, "latest"), 16)
    assert sent_after - sent_before == 1, "exactly one payout transaction on chain"
    with context.database.unit_of_work() as session:
        hashes = list(session.scalars(select(PayoutTransactionRow.tx_hash)))
    assert hashes == [stored[0].tx_hash]
