"""Simulating payouts of misbehaving tokens (QuirkyToken knobs, native coin) on anvil."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from eth_utils.address import to_checksum_address

from chains.devnet import DevnetChain
from chains.errors import ChainError, InvalidChainInput
from chains.evm import EvmAdapter, TransferSimulation

Refuse = Callable[[dict[str, Any]], dict[str, Any] | None]

pytestmark = pytest.mark.anvil

# Addresses nobody holds a key for and that never get native coin unless a test funds them.
SENDER = to_checksum_address("0x5e4d000000000000000000000000000000000001")
RECIPIENT = to_checksum_address("0x5e4d0000000000000000000000000000000000a1")
NO_CODE = to_checksum_address("0x5e4d0000000000000000000000000000000000c0")


def _fresh(seed: int) -> str:
    return to_checksum_address(f"0x5e4d{seed:036x}")


def test_a_plain_transfer_delivers_the_amount_from_a_sender_without_gas_money(
    ethereum: DevnetChain, ethereum_adapter: EvmAdapter, quirky: str
) -> None:
    sender, recipient = _fresh(0x100), _fresh(0x101)
    ethereum.mint(quirky, sender, 5_000)
    ethereum.mint(quirky, recipient, 7)
    assert ethereum_adapter.native_balance(sender) == 0

    simulation = ethereum_adapter.simulate_transfer(
        token=quirky, sender=sender, recipient=recipient, amount=5_000
    )

    assert simulation.ok is True
    assert simulation.delivered == 5_000
    assert (simulation.reason, simulation.returned_false) == (None, False)
    assert simulation.gas_used is not None
    assert 21_000 < simulation.gas_used < 200_000
    # Nothing was sent: the balances are as they were.
    assert ethereum_adapter.token_balance(quirky, recipient) == 7


def test_a_one_percent_fee_delivers_the_amount_less_the_fee_exactly(
    ethereum: DevnetChain, ethereum_adapter: EvmAdapter, quirky: str
) -> None:
    sender, recipient = _fresh(0x200), _fresh(0x201)
    ethereum.mint(quirky, sender, 1_234_567)
    ethereum.set_token_fee(quirky, 100)

    simulation = ethereum_adapter.simulate_transfer(
        token=quirky, sender=sender, recipient=recipient, amount=1_234_567
    )

    fee = 1_234_567 * 100 // 10_000
    assert fee == 12_345
    assert simulation == TransferSimulation(
        ok=True, delivered=1_234_567 - fee, gas_used=simulation.gas_used
    )
    assert simulation.gas_used is not None


def test_a_paused_token_fails_the_simulation_with_reason_paused(
    ethereum: DevnetChain, ethereum_adapter: EvmAdapter, quirky: str
) -> None:
    sender, recipient = _fresh(0x300), _fresh(0x301)
    ethereum.mint(quirky, sender, 1_000)
    ethereum.pause_token(quirky)

    simulation = ethereum_adapter.simulate_transfer(
        token=quirky, sender=sender, recipient=recipient, amount=1_000
    )

    assert (simulation.ok, simulation.reason, simulation.returned_false) == (False, "paused", False)
    assert simulation.delivered == 0

    ethereum.pause_token(quirky, paused=False)
    again = ethereum_adapter.simulate_transfer(
        token=quirky, sender=sender, recipient=recipient, amount=1_000
    )
    assert (again.ok, again.delivered) == (True, 1_000)


@pytest.mark.parametrize("blocked", ["sender", "recipient"])
def test_a_blocked_sender_or_recipient_fails_with_reason_blocked(
    ethereum: DevnetChain, ethereum_adapter: EvmAdapter, quirky: str, blocked: str
) -> None:
    sender, recipient = _fresh(0x400), _fresh(0x401)
    ethereum.mint(quirky, sender, 1_000)
    ethereum.block_address(quirky, sender if blocked == "sender" else recipient)

    simulation = ethereum_adapter.simulate_transfer(
        token=quirky, sender=sender, recipient=recipient, amount=1_000
    )

    assert (simulation.ok, simulation.reason) == (False, "blocked")
    other = ethereum_adapter.simulate_transfer(
        token=quirky, sender=sender, recipient=_fresh(0x402), amount=1_000
    )
    assert other.ok is (blocked == "recipient")


def test_a_token_returning_false_is_caught_without_a_revert(
    ethereum: DevnetChain, ethereum_adapter: EvmAdapter, quirky: str
) -> None:
    sender, recipient = _fresh(0x500), _fresh(0x501)
    ethereum.mint(quirky, sender, 10)

    reverting = ethereum_adapter.simulate_transfer(
        token=quirky, sender=sender, recipient=recipient, amount=11
    )
    ethereum.set_return_false(quirky)
    returning_false = ethereum_adapter.simulate_transfer(
        token=quirky, sender=sender, recipient=recipient, amount=11
    )

    assert (reverting.ok, reverting.reason, reverting.returned_false) == (
        False,
        "balance too low",
        False,
    )
    assert returning_false.ok is False
    assert returning_false.returned_false is True
    assert returning_false.reason == "transfer() returned false"
    assert returning_false.delivered == 0


def test_a_seized_balance_makes_a_later_simulation_fail(
    ethereum: DevnetChain, ethereum_adapter: EvmAdapter, quirky: str
) -> None:
    sender, recipient, treasury = _fresh(0x600), _fresh(0x601), _fresh(0x602)
    ethereum.mint(quirky, sender, 900)
    before = ethereum_adapter.simulate_transfer(
        token=quirky, sender=sender, recipient=recipient, amount=900
    )

    ethereum.seize(quirky, sender, treasury, 900)

    after = ethereum_adapter.simulate_transfer(
        token=quirky, sender=sender, recipient=recipient, amount=900
    )
    assert (before.ok, before.delivered) == (True, 900)
    assert (after.ok, after.reason) == (False, "balance too low")
    assert ethereum_adapter.token_balance(quirky, treasury) == 900
    assert ethereum_adapter.token_balance(quirky, sender) == 0


def test_knobs_belong_to_the_owner(ethereum: DevnetChain, quirky: str) -> None:
    with pytest.raises(ChainError, match="reverted"):
        ethereum.quirk(quirky, "setPaused", True, sender=ethereum.accounts[1])


def test_a_token_without_a_transfer_return_value_is_fine(
    ethereum: DevnetChain, ethereum_adapter: EvmAdapter
) -> None:
    token = ethereum.deploy_no_return_token(supply=10**9)

    simulation = ethereum_adapter.simulate_transfer(
        token=token, sender=ethereum.accounts[0], recipient=_fresh(0x701), amount=333
    )

    assert (simulation.ok, simulation.delivered, simulation.returned_false) == (True, 333, False)


def test_an_address_without_code_is_no_token(ethereum_adapter: EvmAdapter) -> None:
    simulation = ethereum_adapter.simulate_transfer(
        token=NO_CODE, sender=SENDER, recipient=RECIPIENT, amount=1
    )

    assert simulation == TransferSimulation(ok=False, delivered=None, reason="token has no code")


def test_native_transfers_measure_what_the_recipient_gets(
    ethereum: DevnetChain, ethereum_adapter: EvmAdapter, quirky: str
) -> None:
    sender, eoa, wallet = _fresh(0x800), _fresh(0x801), _fresh(0x802)
    ethereum.fund(sender, 10**15)  # exactly the value: nothing left for gas
    ethereum.place_contract_at(wallet, "DepositWallet")

    to_eoa = ethereum_adapter.simulate_transfer(
        token=None, sender=sender, recipient=eoa, amount=10**15
    )
    to_wallet = ethereum_adapter.simulate_transfer(
        token=None, sender=sender, recipient=wallet, amount=10**15
    )
    to_token = ethereum_adapter.simulate_transfer(
        token=None, sender=sender, recipient=quirky, amount=10**15
    )
    too_much = ethereum_adapter.simulate_transfer(
        token=None, sender=sender, recipient=eoa, amount=10**15 + 1
    )

    assert (to_eoa.ok, to_eoa.delivered, to_eoa.gas_used) == (True, 10**15, 21_000)
    assert (to_wallet.ok, to_wallet.delivered) == (True, 10**15)
    assert to_wallet.gas_used is not None
    assert to_wallet.gas_used > 21_000
    # QuirkyToken has no receive(): the value transfer reverts without reason data.
    assert (to_token.ok, to_token.delivered) == (False, 0)
    assert to_token.reason
    assert too_much.ok is False
    assert too_much.reason is not None
    assert "insufficient funds" in too_much.reason.lower()
    assert ethereum_adapter.native_balance(eoa) == 0


def test_a_simulation_at_an_older_block_sees_that_block_s_balances(
    ethereum: DevnetChain, ethereum_adapter: EvmAdapter, quirky: str
) -> None:
    sender, recipient = _fresh(0x900), _fresh(0x901)
    before_mint = ethereum.head()
    ethereum.mint(quirky, sender, 50)

    then = ethereum_adapter.simulate_transfer(
        token=quirky, sender=sender, recipient=recipient, amount=50, block=before_mint
    )
    now = ethereum_adapter.simulate_transfer(
        token=quirky, sender=sender, recipient=recipient, amount=50, block="latest"
    )

    assert (then.ok, then.reason) == (False, "balance too low")
    assert (now.ok, now.delivered) == (True, 50)


@pytest.mark.parametrize("amount", [-1, 2**256, True, "5"])
def test_simulate_refuses_impossible_amounts(ethereum_adapter: EvmAdapter, amount: Any) -> None:
    with pytest.raises(InvalidChainInput):
        ethereum_adapter.simulate_transfer(
            token=None, sender=SENDER, recipient=RECIPIENT, amount=amount
        )


# A node without eth_simulateV1: a proxy in front of anvil answers it with "method not found".


def _no_simulate(item: dict[str, Any]) -> dict[str, Any] | None:
    if item["method"] == "eth_simulateV1":
        return {"error": {"code": -32601, "message": "the method eth_simulateV1 does not exist"}}
    return None


@pytest.fixture
def old_node(rpc_proxy: Callable[[str, Refuse], str]) -> Iterator[EvmAdapter]:
    """An adapter whose node answers eth_simulateV1 with "method not found"."""
    with EvmAdapter("ethereum", [rpc_proxy("ethereum", _no_simulate)]) as adapter:
        yield adapter


def test_without_simulate_v1_an_eth_call_still_catches_reverts_and_false(
    ethereum: DevnetChain, old_node: EvmAdapter, quirky: str
) -> None:
    sender, recipient = _fresh(0xC00), _fresh(0xC01)
    ethereum.mint(quirky, sender, 100)
    ethereum.set_token_fee(quirky, 100)

    fine = old_node.simulate_transfer(token=quirky, sender=sender, recipient=recipient, amount=100)
    ethereum.set_return_false(quirky)
    returned_false = old_node.simulate_transfer(
        token=quirky, sender=sender, recipient=recipient, amount=101
    )
    ethereum.pause_token(quirky)
    paused = old_node.simulate_transfer(
        token=quirky, sender=sender, recipient=recipient, amount=100
    )
    native = old_node.simulate_transfer(
        token=None, sender=ethereum.accounts[0], recipient=recipient, amount=5
    )

    assert (fine.ok, fine.delivered) == (True, None)
    assert fine.gas_used is not None
    assert fine.gas_used > 21_000
    assert (returned_false.ok, returned_false.returned_false) == (False, True)
    assert returned_false.reason == "transfer() returned false"
    assert (paused.ok, paused.reason, paused.delivered) == (False, "paused", None)
    assert (native.ok, native.delivered, native.gas_used) == (True, None, 21_000)
