"""Reading ERC-20 `Transfer` events out of receipt logs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from eth_utils.crypto import keccak

from chains.base import TokenTransfer
from chains.evm.addresses import checksum

TRANSFER_TOPIC = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
_ZERO_PADDING = "0" * 24


def decode_transfers(logs: Iterable[Mapping[str, Any]]) -> tuple[TokenTransfer, ...]:
    """ERC-20 transfers among `logs`, in log order.

    Only logs with exactly 3 topics and 32 bytes of data count: ERC-721 emits the same
    event signature with the token id as a 4th topic, and anything else that shares the
    topic but not the layout cannot be read as an amount.
    """
    transfers = [transfer for log in logs if (transfer := _decode(log)) is not None]
    return tuple(sorted(transfers, key=lambda t: t.log_index))


def _decode(log: Mapping[str, Any]) -> TokenTransfer | None:
    topics = log.get("topics") or []
    data = str(log.get("data") or "0x")
    if log.get("removed") or len(topics) != 3 or str(topics[0]).lower() != TRANSFER_TOPIC:
        return None
    if len(data) != 66:
        return None
    sender = _topic_address(str(topics[1]))
    recipient = _topic_address(str(topics[2]))
    if sender is None or recipient is None:
        return None
    return TokenTransfer(
        token=checksum(str(log["address"])),
        sender=sender,
        recipient=recipient,
        value=int(data, 16),
        log_index=int(str(log["logIndex"]), 16),
    )


def _topic_address(topic: str) -> str | None:
    word = topic.lower().removeprefix("0x")
    if len(word) != 64 or not word.startswith(_ZERO_PADDING):
        return None
    return checksum("0x" + word[24:])
