"""Reads that prove what a payout delivered: receipt Transfer logs, balances at a block
and the block before, and the finalized head; on anvil.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from eth_utils.address import to_checksum_address

from chains.devnet import DevnetChain
from chains.errors import InvalidChainInput
from chains.evm import EvmAdapter

pytestmark = pytest.mark.anvil

Refuse = Callable[[dict[str, Any]], dict[str, Any] | None]


def _fresh(seed: int) -> str:
    return to_checksum_address(f"0x7ead{seed:036x}")


def test_a_fee_transfer_receipt_lists_both_transfer_logs(
    ethereum: DevnetChain, ethereum_adapter: EvmAdapter, quirky: str
) -> None:
    owner, user, recipient = ethereum.accounts[0], ethereum.accounts[2], _fresh(0x101)
    ethereum.mint(quirky, user, 20_000)
    ethereum.set_token_fee(quirky, 100)

    tx_hash = ethereum.transfer_token(quirky, user, recipient, 20_000)
    receipt = ethereum_adapter.receipts([tx_hash])[tx_hash]

    assert receipt is not None
    assert receipt.status == "success"
    assert receipt.logs_count == 2
    assert [(t.token, t.sender, t.recipient, t.value) for t in receipt.transfers] == [
        (quirky, user, recipient, 19_800),
        (quirky, user, owner, 200),
    ]
    assert [t.value for t in receipt.transfers_to(recipient)] == [19_800]


def test_a_false_returning_transfer_is_mined_with_status_1_and_no_logs(
    ethereum: DevnetChain, ethereum_adapter: EvmAdapter, quirky: str
) -> None:
    user, recipient = ethereum.accounts[2], _fresh(0x201)
    ethereum.set_return_false(quirky)

    tx_hash = ethereum.transfer_token(quirky, user, recipient, 1_000)
    receipt = ethereum_adapter.receipts([tx_hash])[tx_hash]

    assert receipt is not None
    assert receipt.status == "success"
    assert (receipt.transfers, receipt.logs_count) == ((), 0)
    assert ethereum_adapter.token_balance(quirky, recipient) == 0


def test_balances_at_a_payout_block_and_the_block_before_differ_by_what_arrived(
    ethereum: DevnetChain, ethereum_adapter: EvmAdapter, quirky: str
) -> None:
    user, recipient = ethereum.accounts[3], _fresh(0x301)
    ethereum.mint(quirky, user, 10_000)
    ethereum.mint(quirky, recipient, 5)
    ethereum.fund(recipient, 1)
    ethereum.set_token_fee(quirky, 250)
    token_tx = ethereum.transfer_token(quirky, user, recipient, 10_000)
    native_tx = ethereum.send(user, recipient, value=777, gas=21_000)
    receipts = ethereum_adapter.receipts([token_tx, native_tx])
    token_receipt, native_receipt = receipts[token_tx], receipts[native_tx]
    assert token_receipt is not None
    assert native_receipt is not None
    token_block, native_block = token_receipt.block_number, native_receipt.block_number
    queries: list[tuple[str | None, str, int | str]] = [
        (quirky, recipient, token_block - 1),
        (quirky, recipient, token_block),
        (None, recipient, native_block - 1),
        (None, recipient, native_block),
        (quirky, recipient, "latest"),
    ]
    calls_before = ethereum_adapter.calls

    balances = ethereum_adapter.balances_at(queries)

    assert ethereum_adapter.calls - calls_before == 1
    assert balances[queries[1]] - balances[queries[0]] == 9_750
    assert balances[queries[3]] - balances[queries[2]] == 777
    assert balances[queries[4]] == 9_755
    assert ethereum_adapter.token_balance_at(quirky, recipient, token_block - 1) == 5
    assert ethereum_adapter.native_balance_at(recipient, native_block) == 778


@pytest.mark.parametrize("block", [-1, True, "earliest-ish", 1.5])
def test_balances_at_refuse_a_malformed_block(ethereum_adapter: EvmAdapter, block: Any) -> None:
    with pytest.raises(InvalidChainInput):
        ethereum_adapter.native_balance_at(_fresh(0x401), block)


def test_finalized_head_is_a_block_number_on_anvil(
    ethereum: DevnetChain, ethereum_adapter: EvmAdapter
) -> None:
    ethereum.mine(2)

    finalized = ethereum_adapter.finalized_head()

    assert isinstance(finalized, int)
    assert 0 <= finalized <= ethereum_adapter.head()


@pytest.mark.parametrize(
    "answer",
    [{"error": {"code": -39001, "message": "Unknown block"}}, {"result": None}],
    ids=["error", "null"],
)
def test_finalized_head_is_none_where_the_node_has_no_finalized_tag(
    rpc_proxy: Callable[[str, Refuse], str], answer: dict[str, Any]
) -> None:
    def refuse(item: dict[str, Any]) -> dict[str, Any] | None:
        if item["method"] == "eth_getBlockByNumber" and item["params"][0] == "finalized":
            return answer
        return None

    with EvmAdapter("ethereum", [rpc_proxy("ethereum", refuse)]) as adapter:
        assert adapter.finalized_head() is None
        assert adapter.head() >= 0
