"""Operators settle only what the engine left to them, on the chain's evidence, never twice."""

from __future__ import annotations

import json
from typing import Any

from recovery.access.keys import Role
from recovery.api.context import AppContext
from recovery.payouts.engine import PayoutEngine
from tests.conftest import Clock
from tests.recovery.payouts.conftest import mining_held
from tests.recovery.payouts.test_payout_flow import approve, run_until_paid, transactions
from tests.recovery.review.conftest import Desk


def resolve(desk: Desk, case: dict[str, Any], resolution: str, headers: dict[str, str]) -> Any:
    return desk.client.post(
        f"/v1/admin/payouts/{case['id']}/resolve",
        json={"resolution": resolution, "note": f"operator says {resolution}"},
        headers=headers,
    )


def test_a_payout_that_failed_on_chain_is_sent_again_only_with_two_admins(
    paying_desk: tuple[Desk, PayoutEngine], context: AppContext, clock: Clock, auth: Any
) -> None:
    desk, engine = paying_desk
    bsc = desk.devnet.chain("bsc")
    token = bsc.deploy_quirky_token(symbol="QRK", decimals=6)
    refund = bsc.accounts[5]
    case = desk.quoted_case(wei=100_000_000, sender_index=5, token=token)
    net = int(case["verdict"]["quote"]["net_amount"])
    approve(desk, case, 5)
    before = bsc.token_balance(token, refund)
    bsc.fund(desk.deposit, 10**18)  # gas, so the payout is signed in one cycle
    # The payout passes its simulation, but the token's owner pauses it in the same block,
    # ahead of the payout (a higher tip): the payout is mined and reverts.
    with mining_held(bsc):
        engine.payout_cycle()
        assert desk.read(case)["status"] == "payout_sent"
        pause = bsc.rpc(
            "eth_sendTransaction",
            {
                "from": bsc.accounts[0],
                "to": token,
                "data": _pause_call(),
                "gas": hex(100_000),
                "maxPriorityFeePerGas": hex(50 * 10**9),
                "maxFeePerGas": hex(100 * 10**9),
            },
        )
        bsc.mine(3)
        assert int(bsc.receipt(pause)["status"], 16) == 1
    clock.advance(seconds=10)
    engine.payout_cycle()
    failed = desk.read(case)
    assert failed["status"] == "payout_failed"
    last = desk.events(case)[-1]
    assert (last["reason_code"], "paused" in last["detail"]) == ("payout_reverted", True)
    run_until_paid(desk, engine, clock, "bsc")
    assert desk.read(case)["status"] == "payout_failed", "never retried on its own"

    assert resolve(desk, case, "retry", desk.alice).status_code == 403
    ops, ops2 = auth("ops-1", Role.ADMIN), auth("ops-2", Role.ADMIN)
    assert resolve(desk, case, "paid", ops).status_code == 409, "the chain shows no delivery"
    early = resolve(desk, case, "retry", ops)
    assert early.status_code == 409, "the failed transaction is not final yet"
    assert "final" in early.json()["detail"]
    bsc.mine(70)  # anvil finalizes two epochs (64 blocks) behind the head
    first = resolve(desk, case, "retry", ops)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "payout_failed", "one admin alone sends nothing"
    again = resolve(desk, case, "retry", ops)
    assert again.json()["status"] == "payout_failed", "the same admin twice is still one"
    bsc.pause_token(token, False)
    second = resolve(desk, case, "retry", ops2)
    assert second.json()["status"] == "payout_pending", second.text

    run_until_paid(desk, engine, clock, "bsc")
    assert desk.read(case)["status"] == "paid"
    assert bsc.token_balance(token, refund) - before == net
    assert int(desk.read(case)["delivered_amount"]) == net
    nonces = sorted(row.nonce for row in transactions(context) if "transfer" in row.kind)
    assert nonces[-1] == nonces[0] + 1, "a new nonce only because the old one was consumed"
    # The claimant reads what happened, not who the operators are or what they noted.
    seen = json.dumps(desk.events(case))
    assert "ops-1" not in seen
    assert "operator says" not in seen
    staff_view = desk.client.get(f"/v1/appeals/{case['id']}/events", headers=ops).json()
    notes = [e["staff"] for e in staff_view["items"] if e["staff"]["actor"] == "admin:ops-2"]
    assert any("operator says retry" in note["detail"] for note in notes)


def _pause_call() -> str:
    from chains.devnet import artifacts

    return artifacts.load("QuirkyToken").call_data("setPaused", True)


def test_an_admin_cannot_fail_or_resend_a_payout_that_is_merely_slow(
    paying_desk: tuple[Desk, PayoutEngine], context: AppContext, clock: Clock, auth: Any
) -> None:
    desk, engine = paying_desk
    bsc = desk.devnet.chain("bsc")
    refund = "0x6666666666666666666666666666666666666666"
    before = bsc.native_balance(refund)
    case = desk.quoted_case(wei=10**18, sender_index=6, refund=refund)
    net = int(case["verdict"]["quote"]["net_amount"])
    approve(desk, case, 6)
    ops = auth("ops", Role.ADMIN)
    with mining_held(bsc):
        engine.payout_cycle()
        assert desk.read(case)["status"] == "payout_sent"
        for resolution in ("payout_failed", "retry", "paid"):
            refused = resolve(desk, case, resolution, ops)
            assert refused.status_code == 409, refused.text
            assert "payout_sent" in refused.json()["detail"]
        bsc.mine(3)
    run_until_paid(desk, engine, clock, "bsc")
    assert desk.read(case)["status"] == "paid"
    assert bsc.native_balance(refund) - before == net


class LostAnswer:
    """An adapter whose broadcast request leaves but whose answer never comes back."""

    def __init__(self, real: object) -> None:
        self.real = real

    def send_raw_transaction(self, raw: bytes) -> str:
        from eth_utils.crypto import keccak

        from chains.errors import BroadcastAmbiguous

        raise BroadcastAmbiguous("bsc", "0x" + keccak(raw).hex(), "http://lost", "read timeout")

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)


def test_an_unknowable_broadcast_is_quarantined_and_resent_on_its_own_nonce(
    paying_desk: tuple[Desk, PayoutEngine], context: AppContext, clock: Clock, auth: Any
) -> None:
    desk, engine = paying_desk
    bsc = desk.devnet.chain("bsc")
    refund = "0x9999999999999999999999999999999999999999"
    before = bsc.native_balance(refund)
    case = desk.quoted_case(wei=10**18, sender_index=1, refund=refund)
    net = int(case["verdict"]["quote"]["net_amount"])
    approve(desk, case, 1)
    real = engine.adapters["bsc"]
    engine.adapters = {**engine.adapters, "bsc": LostAnswer(real)}  # type: ignore[dict-item]

    run_until_paid(desk, engine, clock, "bsc")
    assert desk.read(case)["status"] == "quarantined"
    last = desk.events(case)[-1]
    assert (last["reason_code"], "cannot be known" in last["detail"]) == (
        "payout_outcome_unknown",
        True,
    )
    assert bsc.native_balance(refund) == before
    stored = transactions(context)
    assert len(stored) == 1
    assert bsc.rpc("eth_getTransactionByHash", stored[0].tx_hash) is None

    ops = auth("ops-3", Role.ADMIN)
    failed = resolve(desk, case, "payout_failed", ops)
    assert failed.status_code == 409, "the nonce is unused: the transaction may still land"
    assert failed.json()["reason_code"] == "no_chain_evidence"
    resent = resolve(desk, case, "retry", ops)
    assert resent.status_code == 200, resent.text
    assert resent.json()["status"] == "payout_pending"

    engine.adapters = {**engine.adapters, "bsc": real}
    run_until_paid(desk, engine, clock, "bsc")
    assert desk.read(case)["status"] == "paid"
    assert bsc.native_balance(refund) - before == net
    assert [row.tx_hash for row in transactions(context)] == [stored[0].tx_hash]


def test_an_operator_retry_of_a_stalled_payout_that_then_lands_pays_once(
    paying_desk: tuple[Desk, PayoutEngine], context: AppContext, clock: Clock, auth: Any
) -> None:
    desk, engine = paying_desk
    bsc = desk.devnet.chain("bsc")
    refund = "0x6666666666666666666666666666666666666607"
    before = bsc.native_balance(refund)
    case = desk.quoted_case(wei=10**18, sender_index=3, refund=refund)
    net = int(case["verdict"]["quote"]["net_amount"])
    approve(desk, case, 3)
    ops = auth("ops", Role.ADMIN)
    with mining_held(bsc):
        engine.payout_cycle()
        (first,) = transactions(context)
        clock.advance(hours=2)  # unmined past the stall limit: an operator's now
        engine.payout_cycle()
        assert desk.read(case)["status"] == "quarantined"
        assert bsc.rpc("eth_getTransactionByHash", first.tx_hash) is not None, "still pooled"
        resent = resolve(desk, case, "retry", ops)
        assert resent.status_code == 200, resent.text
        assert resent.json()["status"] == "payout_pending"
        engine.payout_cycle()  # the same signed transaction goes out again
        bsc.mine(3)  # and the first broadcast lands
    run_until_paid(desk, engine, clock, "bsc")
    assert desk.read(case)["status"] == "paid"
    assert bsc.native_balance(refund) - before == net == int(desk.read(case)["delivered_amount"])
    assert [t.tx_hash for t in transactions(context) if t.kind == "transfer"] == [first.tx_hash]
