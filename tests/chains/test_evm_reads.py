"""Code, token metadata, balances, heads and block hashes read from real anvil nodes."""

from __future__ import annotations

import pytest

from chains.devnet import DevnetChain
from chains.evm import EvmAdapter

pytestmark = pytest.mark.anvil

DEPOSIT_ADDRESS = "0x2222222222222222222222222222222222222222"


def test_has_code_is_true_for_a_contract_and_false_for_an_eoa(
    bsc: DevnetChain, bsc_adapter: EvmAdapter, bsc_usdt: str
) -> None:
    eoa = bsc.accounts[1]

    assert bsc_adapter.has_code([bsc_usdt, eoa, DEPOSIT_ADDRESS]) == {
        bsc_usdt: True,
        eoa: False,
        DEPOSIT_ADDRESS: False,
    }


def test_a_deposit_address_holding_a_contract_has_code(
    ethereum: DevnetChain, ethereum_adapter: EvmAdapter
) -> None:
    contract_deposit = "0x3333333333333333333333333333333333333333"
    ethereum.place_contract_at(contract_deposit)

    assert ethereum_adapter.has_code([contract_deposit]) == {contract_deposit: True}


def test_metadata_of_a_usdt_like_token(bsc_adapter: EvmAdapter, bsc_usdt: str) -> None:
    metadata = bsc_adapter.token_metadata(bsc_usdt)

    assert metadata.address == bsc_usdt
    assert (metadata.symbol, metadata.name, metadata.decimals) == ("USDT", "Tether USD", 6)
    assert metadata.transfer_returns_bool is True


def test_metadata_of_a_bytes32_symbol_token(
    ethereum: DevnetChain, ethereum_adapter: EvmAdapter
) -> None:
    token = ethereum.deploy_bytes32_token(symbol="MKR", name="Maker")

    metadata = ethereum_adapter.token_metadata(token)

    assert (metadata.symbol, metadata.name, metadata.decimals) == ("MKR", "Maker", 18)


def test_metadata_of_a_token_without_decimals_or_transfer_return(
    ethereum: DevnetChain, ethereum_adapter: EvmAdapter
) -> None:
    token = ethereum.deploy_no_return_token()

    metadata = ethereum_adapter.token_metadata(token)

    assert metadata.symbol is None
    assert metadata.name is None
    assert metadata.decimals is None
    assert metadata.transfer_returns_bool is False


def test_metadata_of_an_address_without_code_says_nothing(bsc_adapter: EvmAdapter) -> None:
    metadata = bsc_adapter.token_metadata(DEPOSIT_ADDRESS)

    assert (metadata.symbol, metadata.decimals, metadata.transfer_returns_bool) == (
        None,
        None,
        None,
    )


def test_native_and_token_balances(
    bsc: DevnetChain, bsc_adapter: EvmAdapter, bsc_usdt: str
) -> None:
    holder = "0x4444444444444444444444444444444444444444"
    bsc.fund(holder, 12345)
    bsc.mis_sent_deposit(bsc_usdt, holder, 777)

    assert bsc_adapter.native_balance(holder) == 12345
    assert bsc_adapter.token_balance(bsc_usdt, holder) == 777


def test_chain_ids_and_client_versions_come_from_the_nodes(
    bsc_adapter: EvmAdapter, ethereum_adapter: EvmAdapter
) -> None:
    assert (ethereum_adapter.chain_id(), bsc_adapter.chain_id()) == (1, 56)
    assert bsc_adapter.client_version().startswith("anvil/")


def test_head_and_block_hashes_in_one_batch(bsc: DevnetChain, bsc_adapter: EvmAdapter) -> None:
    head = bsc.mine(3)
    calls_before = bsc_adapter.calls

    hashes = bsc_adapter.block_hashes([head - 2, head - 1, head, head + 1000])

    assert bsc_adapter.calls - calls_before == 1
    assert bsc_adapter.head() == head
    assert hashes[head] == bsc.block_hash(head)
    assert hashes[head + 1000] is None
    assert len({hashes[head - 2], hashes[head - 1], hashes[head]}) == 3


def test_anvil_reorg_changes_the_block_hash_at_a_height_and_drops_its_transaction(
    bsc: DevnetChain, bsc_adapter: EvmAdapter, bsc_usdt: str
) -> None:
    tx_hash = bsc.mis_sent_deposit(bsc_usdt, DEPOSIT_ADDRESS, 5)
    facts = bsc_adapter.transactions([tx_hash])[tx_hash]
    assert facts is not None
    bsc.mine(1)
    depth = bsc.head() - facts.block_number + 1

    bsc.reorg(depth)

    after = bsc_adapter.block_hashes([facts.block_number])[facts.block_number]
    assert after is not None
    assert after != facts.block_hash
    assert bsc_adapter.transactions([tx_hash]) == {tx_hash: None}


def test_snapshot_revert_rolls_a_transaction_back(
    ethereum: DevnetChain, ethereum_adapter: EvmAdapter
) -> None:
    token = ethereum.deploy_token(symbol="TMP", decimals=8)
    snapshot = ethereum.snapshot()
    tx_hash = ethereum.mis_sent_deposit(token, DEPOSIT_ADDRESS, 10)
    facts = ethereum_adapter.transactions([tx_hash])[tx_hash]
    assert facts is not None

    ethereum.revert(snapshot)
    ethereum.mine(5)

    assert ethereum_adapter.transactions([tx_hash]) == {tx_hash: None}
    rebuilt = ethereum_adapter.block_hashes([facts.block_number])[facts.block_number]
    assert rebuilt != facts.block_hash
    assert ethereum_adapter.token_balance(token, DEPOSIT_ADDRESS) == 0
