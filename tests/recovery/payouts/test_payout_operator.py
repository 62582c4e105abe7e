"""A payout that failed on chain waits for an operator, who can send it again safely."""

from __future__ import annotations

from recovery.access.keys import Role
from recovery.api.context import AppContext
from recovery.payouts.engine import PayoutEngine
from tests.conftest import Clock
from tests.recovery.payouts.test_payout_flow import approve, run_until_paid, transactions
from tests.recovery.review.conftest import Desk


def test_a_failed_payout_is_retried_by_an_operator_with_a_new_transaction(
    paying_desk: tuple[Desk, PayoutEngine], context: AppContext, clock: Clock, auth
) -> None:  # type: ignore[no-untyped-def]
    desk, engine = paying_desk
    bsc = desk.devnet.chain("bsc")
    usdt = bsc.deploy_token(symbol="USDT", name="Tether USD", decimals=6)
    refund = bsc.accounts[5]
    case = desk.quoted_case(wei=100_000_000, sender_index=5, token=usdt)
    net = int(case["verdict"]["quote"]["net_amount"])
    approve(desk, case, 5)
    # The tokens leave the deposit address before the payout: its transfer will revert.
    bsc.impersonate(desk.deposit)
    bsc.fund(desk.deposit, 10**18)
    bsc.transfer_token(usdt, desk.deposit, bsc.accounts[9], 100_000_000)
    before = bsc.token_balance(usdt, refund)

    run_until_paid(desk, engine, clock, "bsc")
    failed = desk.read(case)
    assert failed["status"] == "payout_failed"
    assert "mined but failed" in desk.events(case)[-1]["detail"]
    run_until_paid(desk, engine, clock, "bsc")
    assert desk.read(case)["status"] == "payout_failed", "never retried on its own"

    admin = auth("ops-2", Role.ADMIN)
    user_try = desk.client.post(
        f"/v1/admin/payouts/{case['id']}/resolve",
        json={"resolution": "retry", "note": "x"},
        headers=desk.alice,
    )
    assert user_try.status_code == 403
    bsc.mint(usdt, desk.deposit, 100_000_000)  # the exchange restored the funds
    retried = desk.client.post(
        f"/v1/admin/payouts/{case['id']}/resolve",
        json={"resolution": "retry", "note": "funds restored to the deposit address"},
        headers=admin,
    )
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "payout_pending"

    run_until_paid(desk, engine, clock, "bsc")
    assert desk.read(case)["status"] == "paid"
    assert bsc.token_balance(usdt, refund) - before == net
    kinds = sorted(row.kind for row in transactions(context))
    assert kinds.count("failed_transfer") == 1
    assert kinds.count("transfer") == 1
    nonces = sorted(row.nonce for row in transactions(context) if "transfer" in row.kind)
    assert nonces[1] == nonces[0] + 1, "the retry used a new nonce"


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


def test_an_unknowable_broadcast_is_quarantined_until_an_operator_settles_it(
    paying_desk: tuple[Desk, PayoutEngine], context: AppContext, clock: Clock, auth
) -> None:  # type: ignore[no-untyped-def]
    desk, engine = paying_desk
    bsc = desk.devnet.chain("bsc")
    refund = "0x9999999999999999999999999999999999999999"
    before = bsc.native_balance(refund)
    case = desk.quoted_case(wei=10**18, sender_index=1, refund=refund)
    approve(desk, case, 1)
    engine.adapters = {**engine.adapters, "bsc": LostAnswer(engine.adapters["bsc"])}  # type: ignore[dict-item]

    run_until_paid(desk, engine, clock, "bsc")
    quarantined = desk.read(case)
    assert quarantined["status"] == "quarantined"
    assert "cannot be known" in desk.events(case)[-1]["detail"]
    assert bsc.native_balance(refund) == before
    stored = transactions(context)
    assert len(stored) == 1
    assert bsc.rpc("eth_getTransactionByHash", stored[0].tx_hash) is None

    admin = auth("ops-3", Role.ADMIN)
    settled = desk.client.post(
        f"/v1/admin/payouts/{case['id']}/resolve",
        json={"resolution": "payout_failed", "note": "not on chain after 30 blocks"},
        headers=admin,
    )
    assert settled.status_code == 200, settled.text
    assert settled.json()["status"] == "payout_failed"
    wrong = desk.client.post(
        f"/v1/admin/payouts/{case['id']}/resolve",
        json={"resolution": "paid", "note": "x"},
        headers=admin,
    )
    assert wrong.status_code == 409
    assert "is payout_failed" in wrong.json()["detail"]
