"""Reading transfers out of real transactions on anvil (chain ids 1 and 56)."""

from __future__ import annotations

import pytest
from eth_utils.address import to_checksum_address

from chains.base import TokenTransfer
from chains.devnet import DevnetChain
from chains.evm import EvmAdapter

pytestmark = pytest.mark.anvil

DEPOSIT_ADDRESS = "0x1111111111111111111111111111111111111111"
UNKNOWN_HASH = "0x" + "ee" * 32


def test_usdt_sent_over_bsc_reads_amount_sender_recipient_and_token(
    bsc: DevnetChain, bsc_adapter: EvmAdapter, bsc_usdt: str
) -> None:
    user = bsc.accounts[1]
    tx_hash = bsc.mis_sent_deposit(bsc_usdt, DEPOSIT_ADDRESS, 250_000_000, sender=user)

    facts = bsc_adapter.transactions([tx_hash])[tx_hash]

    assert facts is not None
    assert facts.status == "success"
    assert facts.tx_hash == tx_hash.lower()
    assert facts.sender == user
    assert facts.recipient == bsc_usdt
    assert facts.native_value == 0
    assert facts.block_hash == bsc.block_hash(facts.block_number)
    assert len(facts.transfers) == 1
    transfer = facts.transfers[0]
    assert transfer.token == bsc_usdt
    assert transfer.sender == user
    assert transfer.recipient == to_checksum_address(DEPOSIT_ADDRESS)
    assert transfer.value == 250_000_000
    assert facts.transfers_to(DEPOSIT_ADDRESS) == (transfer,)


def test_unlisted_token_on_ethereum_is_read(
    ethereum: DevnetChain, ethereum_adapter: EvmAdapter
) -> None:
    token = ethereum.deploy_token(symbol="RARE", name="Rare Unlisted", decimals=18)
    tx_hash = ethereum.mis_sent_deposit(token, DEPOSIT_ADDRESS, 42 * 10**18)

    facts = ethereum_adapter.transactions([tx_hash])[tx_hash]

    assert facts is not None
    assert ethereum_adapter.chain_id() == 1
    assert facts.transfers == (
        TokenTransfer(
            token=token,
            sender=ethereum.accounts[1],
            recipient=to_checksum_address(DEPOSIT_ADDRESS),
            value=42 * 10**18,
            log_index=facts.transfers[0].log_index,
        ),
    )
    metadata = ethereum_adapter.token_metadata(token)
    assert (metadata.symbol, metadata.name, metadata.decimals) == ("RARE", "Rare Unlisted", 18)
    assert metadata.transfer_returns_bool is True


def test_native_coin_transfer_reports_value_and_no_token_transfers(
    ethereum: DevnetChain, ethereum_adapter: EvmAdapter
) -> None:
    tx_hash = ethereum.send(ethereum.accounts[2], DEPOSIT_ADDRESS, value=3 * 10**17, gas=21_000)

    facts = ethereum_adapter.transactions([tx_hash])[tx_hash]

    assert facts is not None
    assert facts.native_value == 3 * 10**17
    assert facts.recipient == to_checksum_address(DEPOSIT_ADDRESS)
    assert facts.transfers == ()


def test_reverted_transaction_is_failed_with_no_transfers(
    bsc: DevnetChain, bsc_adapter: EvmAdapter, bsc_usdt: str
) -> None:
    broke = bsc.accounts[7]
    assert bsc.token_balance(bsc_usdt, broke) == 0
    tx_hash = bsc.reverted_transfer(bsc_usdt, broke, DEPOSIT_ADDRESS, 10**6)

    facts = bsc_adapter.transactions([tx_hash])[tx_hash]

    assert facts is not None
    assert facts.status == "failed"
    assert facts.transfers == ()


def test_several_transfer_logs_in_one_transaction_keep_their_log_indexes(
    bsc: DevnetChain, bsc_adapter: EvmAdapter, bsc_usdt: str
) -> None:
    payments = [(DEPOSIT_ADDRESS, 5), (bsc.accounts[4], 6), (DEPOSIT_ADDRESS, 7)]
    tx_hash = bsc.batch_transfer(bsc_usdt, bsc.accounts[3], payments)

    facts = bsc_adapter.transactions([tx_hash])[tx_hash]

    assert facts is not None
    assert [(t.recipient, t.value) for t in facts.transfers] == [
        (to_checksum_address(r), v) for r, v in payments
    ]
    indexes = [t.log_index for t in facts.transfers]
    assert indexes == sorted(set(indexes))
    receipt_indexes = [int(log["logIndex"], 16) for log in bsc.receipt(tx_hash)["logs"]]
    assert set(indexes) <= set(receipt_indexes)
    assert [t.value for t in facts.transfers_to(DEPOSIT_ADDRESS)] == [5, 7]


def test_erc721_transfer_log_is_not_read_as_a_token_amount(
    ethereum: DevnetChain, ethereum_adapter: EvmAdapter
) -> None:
    collectible = ethereum.deploy_collectible()
    tx_hash = ethereum.mint_collectible(collectible, DEPOSIT_ADDRESS, token_id=77)

    facts = ethereum_adapter.transactions([tx_hash])[tx_hash]

    assert facts is not None
    assert facts.status == "success"
    assert facts.transfers == ()


def test_unknown_hash_is_none_while_the_rest_of_the_batch_is_read(
    bsc: DevnetChain, bsc_adapter: EvmAdapter, bsc_usdt: str
) -> None:
    first = bsc.mis_sent_deposit(bsc_usdt, DEPOSIT_ADDRESS, 1)
    second = bsc.mis_sent_deposit(bsc_usdt, DEPOSIT_ADDRESS, 2)
    calls_before = bsc_adapter.calls

    found = bsc_adapter.transactions([first, UNKNOWN_HASH, second.upper().replace("0X", "0x")])

    assert found[UNKNOWN_HASH] is None
    assert found[first] is not None
    assert found[first].transfers[0].value == 1
    upper = second.upper().replace("0X", "0x")
    assert found[upper] is not None
    assert found[upper].tx_hash == second.lower()
    assert bsc_adapter.calls - calls_before == 1  # one JSON-RPC batch for all of them


def test_pending_transaction_is_none_until_mined(
    bsc: DevnetChain, bsc_adapter: EvmAdapter, bsc_usdt: str
) -> None:
    bsc.mint(bsc_usdt, bsc.accounts[5], 9)
    bsc.set_automine(False)
    try:
        tx_hash = bsc.transfer_token(bsc_usdt, bsc.accounts[5], DEPOSIT_ADDRESS, 9)
        assert bsc_adapter.transactions([tx_hash]) == {tx_hash: None}
        bsc.mine()
    finally:
        bsc.set_automine(True)

    facts = bsc_adapter.transactions([tx_hash])[tx_hash]
    assert facts is not None
    assert facts.transfers[0].value == 9


def test_batches_larger_than_the_chunk_size_are_split(
    bsc: DevnetChain, devnet_bsc_small_batches: EvmAdapter, bsc_usdt: str
) -> None:
    hashes = [bsc.mis_sent_deposit(bsc_usdt, DEPOSIT_ADDRESS, value) for value in (1, 2, 3)]

    found = devnet_bsc_small_batches.transactions([*hashes, UNKNOWN_HASH])

    assert [found[h].transfers[0].value for h in hashes if found[h]] == [1, 2, 3]
    assert found[UNKNOWN_HASH] is None
    assert devnet_bsc_small_batches.calls == 4  # 8 requests in chunks of 2
