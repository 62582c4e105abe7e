"""Native value moved by contracts, read from anvil's call traces; code kinds at addresses."""

from __future__ import annotations

import pytest

from chains.base import AccountCode, value_into
from chains.devnet import DevnetChain
from chains.evm import EvmAdapter

pytestmark = pytest.mark.anvil

FIRST = "0x6161616161616161616161616161616161616161"
SECOND = "0x6262626262626262626262626262626262626262"


def test_internal_transfers_are_read_per_call_frame(
    bsc: DevnetChain, bsc_adapter: EvmAdapter
) -> None:
    forwarder = bsc.deploy_forwarder()
    sender = bsc.accounts[2]
    split = bsc.forward_native(forwarder, sender, [(FIRST, 3), (SECOND, 5), (FIRST, 7)])
    plain = bsc.send(sender, to=SECOND, value=11)
    unknown = "0x" + "ef" * 32

    before = bsc_adapter.calls
    moves = bsc_adapter.native_moves([split, plain, unknown])

    assert bsc_adapter.calls == before + 1, "three traces, one JSON-RPC batch"
    assert moves[unknown] is None
    split_moves = moves[split]
    assert split_moves is not None
    # The top-level value to the forwarder, then one internal transfer per payment.
    assert [(m.recipient, m.value, m.depth) for m in split_moves] == [
        (forwarder, 15, 0),
        (FIRST, 3, 1),
        (SECOND, 5, 1),
        (FIRST, 7, 1),
    ]
    assert {m.sender for m in split_moves[1:]} == {forwarder}
    assert value_into(split_moves, FIRST) == 10
    assert value_into(split_moves, SECOND.lower()) == 5
    plain_moves = moves[plain]
    assert plain_moves is not None
    assert value_into(plain_moves, SECOND) == 11
    assert bsc.native_balance(FIRST) >= 10


def test_value_sent_inside_a_reverted_frame_is_left_out(
    bsc: DevnetChain, bsc_adapter: EvmAdapter
) -> None:
    forwarder = bsc.deploy_forwarder()
    target = "0x6363636363636363636363636363636363636363"
    tx = bsc.forward_native(forwarder, bsc.accounts[2], [(target, 10**15)], undo=True)
    assert int(bsc.receipt(tx)["status"], 16) == 1

    moves = bsc_adapter.native_moves([tx])[tx]

    assert moves is not None
    assert value_into(moves, target) == 0
    assert bsc.native_balance(target) == 0
    assert value_into(moves, forwarder) == 10**15


def test_code_kinds_tell_a_contract_from_an_eip7702_delegation(
    ethereum: DevnetChain, ethereum_adapter: EvmAdapter
) -> None:
    contract = ethereum.place_contract_at("0x6464646464646464646464646464646464646464")
    delegated = ethereum.delegate("0x6565656565656565656565656565656565656565", contract)
    plain = ethereum.accounts[4]
    try:
        codes = ethereum_adapter.account_codes([contract, delegated, plain])
        assert codes == {
            contract: AccountCode("contract"),
            delegated: AccountCode("delegation", contract),
            plain: AccountCode("none"),
        }
        assert ethereum_adapter.has_code([delegated, plain]) == {delegated: True, plain: False}
    finally:
        ethereum.clear_code(delegated)
