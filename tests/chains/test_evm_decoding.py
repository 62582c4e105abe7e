"""Decoding of Transfer logs, token text fields and addresses, without a node."""

from __future__ import annotations

from eth_abi.abi import encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hypothesis import given
from hypothesis import strategies as st

from chains.evm.addresses import checksum
from chains.evm.metadata import decode_decimals, decode_text
from chains.evm.payout import Receipt, revert_reason
from chains.evm.transfers import TRANSFER_TOPIC, decode_transfers

TOKEN = "0x5fbdb2315678afecb367f032d93f642f64180aa3"
SENDER = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
RECIPIENT = "0x1111111111111111111111111111111111111111"


def _topic(address: str) -> str:
    return "0x" + address[2:].rjust(64, "0")


def _log(*, topics: list[str] | None = None, data: str | None = None, index: int = 0) -> dict:
    return {
        "address": TOKEN,
        "topics": topics or [TRANSFER_TOPIC, _topic(SENDER), _topic(RECIPIENT)],
        "data": data if data is not None else "0x" + (10**6).to_bytes(32, "big").hex(),
        "logIndex": hex(index),
    }


def test_transfer_topic_is_the_erc20_event_signature() -> None:
    assert TRANSFER_TOPIC == "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


def test_a_transfer_log_reads_as_checksummed_addresses_and_amount() -> None:
    (transfer,) = decode_transfers([_log(index=3)])

    assert transfer.token == to_checksum_address(TOKEN)
    assert transfer.sender == to_checksum_address(SENDER)
    assert transfer.recipient == to_checksum_address(RECIPIENT)
    assert (transfer.value, transfer.log_index) == (10**6, 3)


def test_erc721_four_topic_logs_and_other_events_are_ignored() -> None:
    token_id = "0x" + "0" * 63 + "7"
    nft = _log(topics=[TRANSFER_TOPIC, _topic(SENDER), _topic(RECIPIENT), token_id], data="0x")
    approval = _log(topics=["0x8c5be1e5" + "0" * 56, _topic(SENDER), _topic(RECIPIENT)])
    short_data = _log(data="0x01")
    dirty_topic = _log(topics=[TRANSFER_TOPIC, "0x" + "f" * 64, _topic(RECIPIENT)])
    removed = {**_log(), "removed": True}

    assert decode_transfers([nft, approval, short_data, dirty_topic, removed]) == ()


def test_transfers_come_back_in_log_order() -> None:
    logs = [_log(index=9), _log(index=2), _log(index=5)]

    assert [t.log_index for t in decode_transfers(logs)] == [2, 5, 9]


@given(st.text(max_size=40).filter(lambda s: "\x00" not in s and s.strip() == s and s))
def test_string_return_values_decode(text: str) -> None:
    assert decode_text(encode(["string"], [text])) == text[:256]


def test_bytes32_return_values_decode() -> None:
    assert decode_text(b"MKR".ljust(32, b"\x00")) == "MKR"
    assert decode_text(b"Maker".ljust(32, b"\x00")) == "Maker"


def test_unreadable_text_is_none() -> None:
    assert decode_text(b"") is None
    assert decode_text(b"\xff" * 32) is None
    assert decode_text(b"\x00" * 32) is None
    assert decode_text(b"\x01\x02") is None


def test_decimals_beyond_uint8_or_missing_are_none() -> None:
    assert decode_decimals((6).to_bytes(32, "big")) == 6
    assert decode_decimals((256).to_bytes(32, "big")) is None
    assert decode_decimals(b"") is None


@given(st.binary(min_size=20, max_size=20))
def test_checksum_matches_eip55(raw: bytes) -> None:
    address = "0x" + raw.hex()
    assert checksum(address) == to_checksum_address(address)
    assert checksum(address.upper().replace("0X", "0x")) == to_checksum_address(address)


def test_revert_reasons_decode_error_strings_panics_and_custom_errors() -> None:
    error = keccak(text="Error(string)")[:4] + encode(["string"], ["paused"])
    panic = keccak(text="Panic(uint256)")[:4] + encode(["uint256"], [0x11])
    custom = keccak(text="Blocked(address)")[:4] + encode(["address"], [SENDER])

    assert revert_reason(error) == "paused"
    assert revert_reason(panic) == "Panic(0x11)"
    assert revert_reason(custom) == "0x" + keccak(text="Blocked(address)")[:4].hex()
    assert revert_reason(error[:10]) == "0x08c379a0"  # truncated: the selector is all we know
    assert revert_reason(b"") is None


def test_a_receipt_built_the_old_way_has_no_transfers_and_no_logs() -> None:
    receipt = Receipt("0x" + "ab" * 32, "success", 7, "0x" + "cd" * 32, 21_000, 3)

    assert (receipt.transfers, receipt.logs_count, receipt.fee_paid) == ((), 0, 63_000)
    assert receipt.transfers_to(RECIPIENT) == ()
