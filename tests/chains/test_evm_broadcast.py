"""Broadcast of signed transactions: one attempt, failover only before anything was sent."""

from __future__ import annotations

import pytest
from eth_account import Account

from chains.devnet import DEV_MNEMONIC, DevnetChain, DevnetCluster
from chains.devnet.node import free_port
from chains.errors import BroadcastAmbiguous, BroadcastRejected, RpcUnavailable
from chains.evm import EvmAdapter

pytestmark = pytest.mark.anvil

Account.enable_unaudited_hdwallet_features()
PAYER = Account.from_mnemonic(DEV_MNEMONIC, account_path="m/44'/60'/0'/0/8")
REFUND_ADDRESS = "0x5555555555555555555555555555555555555555"


def _signed_payment(chain: DevnetChain, chain_id: int, value: int) -> bytes:
    nonce = int(chain.rpc("eth_getTransactionCount", PAYER.address, "pending"), 16)
    tx = {
        "type": 2,
        "chainId": chain_id,
        "nonce": nonce,
        "to": REFUND_ADDRESS,
        "value": value,
        "gas": 21_000,
        "maxFeePerGas": 10 * 10**9,
        "maxPriorityFeePerGas": 10**9,
    }
    return bytes(PAYER.sign_transaction(tx).raw_transaction)


def test_broadcast_returns_the_hash_and_the_payment_is_mined(
    devnet: DevnetCluster, bsc: DevnetChain, bsc_adapter: EvmAdapter
) -> None:
    raw = _signed_payment(bsc, 56, 1000)

    tx_hash = bsc_adapter.send_raw_transaction(raw)

    bsc.wait_mined([tx_hash])
    facts = bsc_adapter.transactions([tx_hash])[tx_hash]
    assert facts is not None
    assert facts.native_value == 1000
    assert facts.sender == PAYER.address


def test_broadcast_skips_an_endpoint_that_refused_the_connection(
    devnet: DevnetCluster, ethereum: DevnetChain
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    raw = _signed_payment(ethereum, 1, 2000)
    with EvmAdapter("ethereum", [dead, devnet.node("ethereum").url]) as adapter:
        tx_hash = adapter.send_raw_transaction(raw)
        ethereum.wait_mined([tx_hash])
        assert adapter.errors == 1


def test_resending_a_mined_payment_is_rejected_with_its_hash(
    bsc: DevnetChain, bsc_adapter: EvmAdapter
) -> None:
    raw = _signed_payment(bsc, 56, 3000)
    tx_hash = bsc_adapter.send_raw_transaction(raw)
    bsc.wait_mined([tx_hash])

    with pytest.raises(BroadcastRejected) as raised:
        bsc_adapter.send_raw_transaction(raw)

    assert raised.value.tx_hash == tx_hash
    assert "nonce" in raised.value.rpc_message.lower()


def test_timeout_after_sending_is_ambiguous_and_never_tries_the_next_endpoint(
    devnet: DevnetCluster, ethereum: DevnetChain, silent_endpoint: str
) -> None:
    raw = _signed_payment(ethereum, 1, 4000)
    live = devnet.node("ethereum").url
    nonce_before = ethereum.rpc("eth_getTransactionCount", PAYER.address, "pending")

    with (
        EvmAdapter("ethereum", [silent_endpoint, live], timeout=0.2) as adapter,
        pytest.raises(BroadcastAmbiguous) as raised,
    ):
        adapter.send_raw_transaction(raw)

    assert raised.value.tx_hash in str(raised.value)
    assert raised.value.endpoint == silent_endpoint
    assert ethereum.rpc("eth_getTransactionCount", PAYER.address, "pending") == nonce_before


def test_broadcast_with_every_endpoint_refusing_connections_is_unavailable() -> None:
    dead = [f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"]
    with EvmAdapter("bsc", dead) as adapter, pytest.raises(RpcUnavailable) as raised:
        adapter.send_raw_transaction(b"\x02\x01")

    assert set(raised.value.failures) == set(dead)
