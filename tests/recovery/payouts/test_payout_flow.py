"""From appeal to money back on real devnets: the refund address gets exactly the net amount."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from recovery.api.context import AppContext
from recovery.db.tables import LedgerEntryRow, PayoutTransactionRow
from recovery.payouts.engine import PayoutEngine
from tests.conftest import Clock
from tests.recovery.review.conftest import Desk


def approve(desk: Desk, case: dict[str, Any], sender_index: int) -> dict[str, Any]:
    assert desk.prove(case, key_index=sender_index).status_code == 200
    desk.accept(case)
    response = desk.client.post(f"/v1/review/{case['id']}/approve", headers=desk.rita)
    assert response.status_code == 200, response.text
    if response.json()["status"] == "in_review":
        response = desk.client.post(f"/v1/review/{case['id']}/approve", headers=desk.rob)
    assert response.json()["status"] == "approved", response.text
    return response.json()


def run_until_paid(desk: Desk, engine: PayoutEngine, clock: Clock, network: str) -> None:
    for _ in range(8):
        engine.payout_cycle()
        desk.devnet.chain(network).mine(1)
        clock.advance(seconds=10)


def transactions(context: AppContext) -> list[PayoutTransactionRow]:
    with context.database.unit_of_work() as session:
        rows = list(session.scalars(select(PayoutTransactionRow)))
        for row in rows:
            session.expunge(row)
    return rows


def test_wrong_network_usdt_is_paid_back_with_a_gas_top_up(
    paying_desk: tuple[Desk, PayoutEngine], context: AppContext, clock: Clock
) -> None:
    desk, engine = paying_desk
    bsc = desk.devnet.chain("bsc")
    usdt = bsc.deploy_token(symbol="USDT", name="Tether USD", decimals=6)
    bsc.fund(desk.deposit, 0)  # no gas at the deposit address: the engine must top it up
    sender_index = 5
    refund = bsc.accounts[sender_index]
    before = bsc.token_balance(usdt, refund)
    case = desk.quoted_case(wei=250_000_000, sender_index=sender_index, token=usdt)
    net = int(case["verdict"]["quote"]["net_amount"])
    fee = int(case["verdict"]["quote"]["fee_amount"])
    assert net + fee == 250_000_000
    approve(desk, case, sender_index)

    run_until_paid(desk, engine, clock, "bsc")

    assert desk.read(case)["status"] == "paid"
    assert bsc.token_balance(usdt, refund) - before == net
    assert bsc.token_balance(usdt, desk.deposit) == fee
    kinds = sorted(row.kind for row in transactions(context))
    assert kinds == ["gas_topup", "transfer"]
    assert int(desk.read(case)["delivered_amount"]) == net
    with context.database.unit_of_work() as session:
        ledger = {row.kind: row for row in session.scalars(select(LedgerEntryRow))}
        assert (ledger["fee"].amount, ledger["fee"].token) == (fee, usdt)
        # The gas of the top-up and of the transfer, in wei of the native coin.
        assert (ledger["gas"].token, ledger["gas"].amount > 0) == ("native", True)
    statuses = [e["to_status"] for e in desk.events(case)]
    assert statuses[-4:] == ["approved", "payout_pending", "payout_sent", "paid"]


def test_unlisted_token_on_ethereum_is_paid_back(
    paying_desk: tuple[Desk, PayoutEngine], clock: Clock
) -> None:
    desk, engine = paying_desk
    ethereum = desk.devnet.chain("ethereum")
    token = ethereum.deploy_token(symbol="ODD", name="Odd", decimals=18)
    sender_index = 4
    refund = ethereum.accounts[sender_index]
    before = ethereum.token_balance(token, refund)
    case = desk.quoted_case(
        wei=7 * 10**18, sender_index=sender_index, token=token, network="ethereum"
    )
    net = int(case["verdict"]["quote"]["net_amount"])
    approve(desk, case, sender_index)
    run_until_paid(desk, engine, clock, "ethereum")
    assert desk.read(case)["status"] == "paid"
    assert ethereum.token_balance(token, refund) - before == net
    assert int(desk.read(case)["delivered_amount"]) == net


def test_native_coin_is_paid_back_and_never_twice(
    paying_desk: tuple[Desk, PayoutEngine], context: AppContext, clock: Clock
) -> None:
    desk, engine = paying_desk
    bsc = desk.devnet.chain("bsc")
    sender_index = 3
    refund = "0x7777777777777777777777777777777777777777"
    before = bsc.native_balance(refund)
    case = desk.quoted_case(wei=2 * 10**18, sender_index=sender_index, refund=refund)
    net = int(case["verdict"]["quote"]["net_amount"])
    approve(desk, case, sender_index)
    run_until_paid(desk, engine, clock, "bsc")
    assert desk.read(case)["status"] == "paid"
    assert bsc.native_balance(refund) - before == net
    assert int(desk.read(case)["delivered_amount"]) == net
    # More cycles change nothing: a paid case is never paid again.
    run_until_paid(desk, engine, clock, "bsc")
    assert bsc.native_balance(refund) - before == net
    assert [row.kind for row in transactions(context)].count("transfer") == 1


def test_operators_see_each_payout_its_transactions_and_the_gas_wallets(
    paying_desk: tuple[Desk, PayoutEngine], context: AppContext, clock: Clock, auth: Any
) -> None:
    from recovery.access.keys import Role

    desk, engine = paying_desk
    bsc = desk.devnet.chain("bsc")
    token = bsc.deploy_token(symbol="USDT", name="Tether USD", decimals=6)
    bsc.fund(desk.deposit, 0)
    case = desk.quoted_case(wei=50_000_000, sender_index=6, token=token)
    approve(desk, case, 6)
    run_until_paid(desk, engine, clock, "bsc")
    ops = auth("ops", Role.ADMIN)
    assert desk.client.get("/v1/admin/payouts", headers=desk.alice).status_code == 403
    listed = desk.client.get("/v1/admin/payouts?status=paid", headers=ops)
    assert listed.status_code == 200, listed.text
    (payout,) = listed.json()["items"]
    assert payout["reference"] == case["reference"]
    assert payout["delivered_amount"] == str(case["verdict"]["quote"]["net_amount"])
    kinds = [t["kind"] for t in payout["transactions"]]
    assert kinds == ["gas_topup", "transfer"]
    transfer = payout["transactions"][1]
    assert transfer["nonce"] == payout["nonce"]
    assert transfer["tx_hash"] in transfer["explorer_url"]
    one = desk.client.get(f"/v1/admin/payouts/{case['id']}", headers=ops).json()
    assert one["transactions"] == payout["transactions"]
    wallets = desk.client.get("/v1/admin/gas-wallets", headers=ops).json()["items"]
    assert {w["network"] for w in wallets} == {"bsc", "ethereum"}
    bsc_wallet = next(w for w in wallets if w["network"] == "bsc")
    assert int(bsc_wallet["balance"]) == bsc.native_balance(engine.signer.gas_wallet_address)
