"""Payout transactions on a real anvil node: build, sign, broadcast, replace, track."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from fractions import Fraction

import pytest
from eth_account import Account

from chains.devnet import DevnetChain
from chains.errors import BroadcastRejected
from chains.evm import (
    BroadcastOutcome,
    EvmAdapter,
    FeeParams,
    InvalidPayoutTransaction,
    broadcast_payout,
    bumped,
    erc20_transfer_tx,
    native_transfer_tx,
)
from chains.signers import HdSigner

pytestmark = pytest.mark.anvil

MNEMONIC = "army diary humble era skull reason tunnel machine fluid bottom afraid maze"
BSC = 56
GAS_MONEY = 10**17
_indexes = itertools.count(0)


@pytest.fixture(scope="module")
def signer() -> HdSigner:
    return HdSigner(MNEMONIC, devnet_chain_ids=frozenset({BSC}))


@pytest.fixture
def deposit_address(signer: HdSigner, bsc: DevnetChain) -> str:
    """A fresh derived deposit address (nonce 0) holding gas money."""
    address = signer.register_deposit_index(next(_indexes))
    bsc.fund(address, GAS_MONEY)
    return address


@pytest.fixture
def refund_address() -> str:
    """A fresh address with nothing on it."""
    return str(Account.create().address)


@pytest.fixture
def manual_mining(bsc: DevnetChain) -> Iterator[DevnetChain]:
    """Automine off for one test; pending transactions are mined and automine restored after."""
    bsc.set_automine(False)
    try:
        yield bsc
    finally:
        bsc.mine()
        bsc.set_automine(True)


# Pure builders and fee arithmetic


def test_bump_rounds_every_field_up_by_at_least_12_5_percent() -> None:
    fees = FeeParams.eip1559(max_fee_per_gas=1_000_000_001, max_priority_fee_per_gas=100)

    raised = bumped(fees)

    assert raised.max_fee_per_gas == 1_125_000_002  # 1_125_000_001.125 rounded up
    assert raised.max_priority_fee_per_gas == 113  # 112.5 rounded up
    assert bumped(FeeParams.legacy(8)).gas_price == 9
    assert bumped(FeeParams.eip1559(5, 0)).max_priority_fee_per_gas == 1  # zero still grows
    assert bumped(fees, 100).max_priority_fee_per_gas == 200
    assert bumped(fees, Fraction(25, 2)) == raised


def test_a_bump_below_the_replacement_minimum_is_refused() -> None:
    with pytest.raises(InvalidPayoutTransaction, match=r"12\.5"):
        bumped(FeeParams.legacy(100), 10)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"max_fee_per_gas": 10},
        {"gas_price": 1, "max_fee_per_gas": 1, "max_priority_fee_per_gas": 1},
        {"max_fee_per_gas": 1, "max_priority_fee_per_gas": 2},
        {"gas_price": -1},
        {"gas_price": 1.5},
    ],
)
def test_impossible_fee_params_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(InvalidPayoutTransaction):
        FeeParams(**fields)  # type: ignore[arg-type]


def test_erc20_transfer_data_is_selector_and_abi_words() -> None:
    recipient = "0x5555555555555555555555555555555555555555"
    tx = erc20_transfer_tx(
        token="0x1111111111111111111111111111111111111111",
        sender="0x2222222222222222222222222222222222222222",
        recipient=recipient,
        value=1_500_000,
        nonce=7,
        fees=FeeParams.legacy(10**9),
        gas=60_000,
        chain_id=BSC,
    )

    assert tx["data"] == "0xa9059cbb" + "0" * 24 + recipient[2:] + f"{1_500_000:064x}"
    assert tx["value"] == 0
    assert tx["gasPrice"] == 10**9
    assert "type" not in tx
    assert (tx["nonce"], tx["gas"], tx["chainId"]) == (7, 60_000, BSC)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("recipient", "0x0000000000000000000000000000000000000000"),
        ("recipient", "0x1234"),
        ("value", -1),
        ("value", 1.0),
        ("value", 2**256),
        ("nonce", -1),
        ("gas", 20_999),
        ("chain_id", 0),
    ],
)
def test_native_transfer_refuses_impossible_fields(field: str, value: object) -> None:
    fields: dict[str, object] = {
        "sender": "0x2222222222222222222222222222222222222222",
        "recipient": "0x5555555555555555555555555555555555555555",
        "value": 1,
        "nonce": 0,
        "fees": FeeParams.legacy(1),
        "chain_id": BSC,
    }
    fields[field] = value
    with pytest.raises(InvalidPayoutTransaction, match=field):
        native_transfer_tx(**fields)  # type: ignore[arg-type]


# Adapter reads for payouts


def test_fee_params_of_a_1559_node_cover_the_next_base_fee(
    bsc: DevnetChain, bsc_adapter: EvmAdapter
) -> None:
    fees = bsc_adapter.fee_params()

    base_fee = int(bsc.rpc("eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
    assert fees.is_eip1559
    assert fees.max_priority_fee_per_gas is not None
    assert fees.max_priority_fee_per_gas > 0
    assert fees.max_fee_per_gas is not None
    assert fees.max_fee_per_gas >= base_fee + fees.max_priority_fee_per_gas
    floor = bsc_adapter.fee_params(min_priority_fee_per_gas=7 * 10**9)
    assert floor.max_priority_fee_per_gas == 7 * 10**9


def test_nonce_and_gas_estimate(
    bsc_adapter: EvmAdapter, deposit_address: str, refund_address: str
) -> None:
    assert bsc_adapter.nonce(deposit_address) == 0
    assert bsc_adapter.nonce(deposit_address, "latest") == 0
    tx = native_transfer_tx(
        sender=deposit_address,
        recipient=refund_address,
        value=1,
        nonce=0,
        fees=FeeParams.legacy(1),
        chain_id=BSC,
    )
    assert bsc_adapter.estimate_gas(tx) == 21_000


# Sign and broadcast on the devnet


def test_native_payout_moves_exactly_the_value(
    signer: HdSigner,
    bsc: DevnetChain,
    bsc_adapter: EvmAdapter,
    deposit_address: str,
    refund_address: str,
) -> None:
    value = 12_345_678_901
    tx = native_transfer_tx(
        sender=deposit_address,
        recipient=refund_address,
        value=value,
        nonce=0,
        fees=bsc_adapter.fee_params(),
        chain_id=BSC,
    )
    signed = signer.sign_transaction(deposit_address, tx, BSC)

    result = broadcast_payout(bsc_adapter, signed.raw_transaction)
    bsc.wait_mined([signed.tx_hash])

    assert (result.outcome, result.tx_hash) == (BroadcastOutcome.ACCEPTED, signed.tx_hash)
    receipt = bsc_adapter.receipts([signed.tx_hash])[signed.tx_hash]
    assert receipt is not None
    assert receipt.status == "success"
    assert receipt.gas_used == 21_000
    assert receipt.fee_paid is not None
    assert bsc.native_balance(refund_address) == value
    assert bsc.native_balance(deposit_address) == GAS_MONEY - value - receipt.fee_paid


def test_token_payout_moves_exactly_the_value(
    signer: HdSigner,
    bsc: DevnetChain,
    bsc_adapter: EvmAdapter,
    bsc_usdt: str,
    deposit_address: str,
    refund_address: str,
) -> None:
    bsc.mint(bsc_usdt, deposit_address, 5_000_000)
    draft = erc20_transfer_tx(
        token=bsc_usdt,
        sender=deposit_address,
        recipient=refund_address,
        value=1_250_000,
        nonce=0,
        fees=bsc_adapter.fee_params(),
        gas=100_000,
        chain_id=BSC,
    )
    gas = bsc_adapter.estimate_gas(draft)
    tx = {**draft, "gas": gas + gas // 5}
    signed = signer.sign_transaction(deposit_address, tx, BSC)

    result = broadcast_payout(bsc_adapter, signed.raw_transaction)
    bsc.wait_mined([signed.tx_hash])

    assert result.outcome is BroadcastOutcome.ACCEPTED
    receipt = bsc_adapter.receipts([signed.tx_hash])[signed.tx_hash]
    assert receipt is not None
    assert receipt.status == "success"
    assert bsc.token_balance(bsc_usdt, refund_address) == 1_250_000
    assert bsc.token_balance(bsc_usdt, deposit_address) == 3_750_000
    facts = bsc_adapter.transactions([signed.tx_hash])[signed.tx_hash]
    assert facts is not None
    assert [(t.sender, t.recipient, t.value) for t in facts.transfers] == [
        (deposit_address, refund_address, 1_250_000)
    ]


def test_rebroadcast_of_a_mined_payout_means_look_it_up(
    signer: HdSigner,
    bsc: DevnetChain,
    bsc_adapter: EvmAdapter,
    deposit_address: str,
    refund_address: str,
) -> None:
    tx = native_transfer_tx(
        sender=deposit_address,
        recipient=refund_address,
        value=1000,
        nonce=0,
        fees=bsc_adapter.fee_params(),
        chain_id=BSC,
    )
    signed = signer.sign_transaction(deposit_address, tx, BSC)
    first = broadcast_payout(bsc_adapter, signed.raw_transaction)
    bsc.wait_mined([signed.tx_hash])

    again = broadcast_payout(bsc_adapter, signed.raw_transaction)
    with pytest.raises(BroadcastRejected) as raised:
        bsc_adapter.send_raw_transaction(signed.raw_transaction)

    assert first.outcome is BroadcastOutcome.ACCEPTED
    assert (again.outcome, again.tx_hash) == (BroadcastOutcome.LOOK_UP, signed.tx_hash)
    assert raised.value.lookup_by_hash
    assert raised.value.tx_hash == signed.tx_hash
    assert bsc_adapter.nonce(deposit_address, "latest") == 1  # one transaction on chain
    assert bsc.native_balance(refund_address) == 1000  # paid once


def test_rebroadcast_of_a_pending_payout_returns_its_hash(
    signer: HdSigner,
    manual_mining: DevnetChain,
    bsc_adapter: EvmAdapter,
    deposit_address: str,
    refund_address: str,
) -> None:
    tx = native_transfer_tx(
        sender=deposit_address,
        recipient=refund_address,
        value=2000,
        nonce=0,
        fees=bsc_adapter.fee_params(),
        chain_id=BSC,
    )
    signed = signer.sign_transaction(deposit_address, tx, BSC)

    first = broadcast_payout(bsc_adapter, signed.raw_transaction)
    second = broadcast_payout(bsc_adapter, signed.raw_transaction)
    pending = bsc_adapter.transaction_by_hash(signed.tx_hash)
    manual_mining.mine()

    assert first.outcome is second.outcome is BroadcastOutcome.ACCEPTED
    assert first.tx_hash == second.tx_hash == signed.tx_hash
    assert pending is not None
    assert pending["blockNumber"] is None
    assert bsc_adapter.receipts([signed.tx_hash])[signed.tx_hash] is not None
    assert bsc_adapter.nonce(deposit_address, "latest") == 1
    assert manual_mining.native_balance(refund_address) == 2000


def test_fee_bumped_replacement_leaves_exactly_one_mined_candidate(
    signer: HdSigner,
    manual_mining: DevnetChain,
    bsc_adapter: EvmAdapter,
    deposit_address: str,
    refund_address: str,
) -> None:
    fees = bsc_adapter.fee_params()
    candidates = []
    for candidate_fees in (fees, bumped(fees)):
        tx = native_transfer_tx(
            sender=deposit_address,
            recipient=refund_address,
            value=3000,
            nonce=0,
            fees=candidate_fees,
            chain_id=BSC,
        )
        signed = signer.sign_transaction(deposit_address, tx, BSC)
        assert broadcast_payout(bsc_adapter, signed.raw_transaction).outcome is (
            BroadcastOutcome.ACCEPTED
        )
        candidates.append(signed.tx_hash)
    manual_mining.mine()

    receipts = bsc_adapter.receipts(candidates)

    assert candidates[0] != candidates[1]
    mined = [h for h, r in receipts.items() if r is not None]
    assert mined == [candidates[1]]
    assert manual_mining.native_balance(refund_address) == 3000


def test_an_underfunded_payout_is_rejected_not_looked_up(
    signer: HdSigner, bsc_adapter: EvmAdapter, refund_address: str
) -> None:
    broke = signer.register_deposit_index(next(_indexes))
    tx = native_transfer_tx(
        sender=broke,
        recipient=refund_address,
        value=1,
        nonce=0,
        fees=bsc_adapter.fee_params(),
        chain_id=BSC,
    )
    signed = signer.sign_transaction(broke, tx, BSC)

    result = broadcast_payout(bsc_adapter, signed.raw_transaction)

    assert result.outcome is BroadcastOutcome.REJECTED
    assert "insufficient funds" in result.detail.lower()


def test_batched_receipts_answer_none_for_an_unknown_hash(
    bsc: DevnetChain, bsc_adapter: EvmAdapter, refund_address: str
) -> None:
    known = bsc.send(bsc.accounts[2], refund_address, value=5)
    unknown = "0x" + "ab" * 32

    receipts = bsc_adapter.receipts([known, unknown, known])

    assert list(receipts) == [known, unknown]
    assert receipts[unknown] is None
    found = receipts[known]
    assert found is not None
    assert found.tx_hash == known.lower()
    assert found.block_hash == bsc.block_hash(found.block_number)
    assert bsc_adapter.transaction_by_hash(unknown) is None
