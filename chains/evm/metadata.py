"""Reading token self-descriptions that do not all follow ERC-20 to the letter."""

from __future__ import annotations

from eth_abi.abi import decode
from eth_abi.exceptions import DecodingError
from eth_utils.crypto import keccak

# Four-byte selectors of the ERC-20 read functions the adapter calls.
SYMBOL = "0x" + keccak(text="symbol()")[:4].hex()
NAME = "0x" + keccak(text="name()")[:4].hex()
DECIMALS = "0x" + keccak(text="decimals()")[:4].hex()
BALANCE_OF = "0x" + keccak(text="balanceOf(address)")[:4].hex()

_MAX_TEXT = 256


def decode_text(data: bytes) -> str | None:
    """A `string` return value, or a `bytes32` one (MKR, SAI); None when neither reads."""
    if len(data) >= 64:
        try:
            (text,) = decode(["string"], data, strict=False)
        except (DecodingError, ValueError, OverflowError):  # invalid UTF-8 is a ValueError
            text = None
        if isinstance(text, str):
            return _clean(text)
    if len(data) == 32:
        try:
            return _clean(data.rstrip(b"\x00").decode("utf-8"))
        except UnicodeDecodeError:
            return None
    return None


def decode_decimals(data: bytes) -> int | None:
    """A `decimals()` return value; None when absent or beyond what a uint8 can hold."""
    if len(data) < 32:
        return None
    value = int.from_bytes(data[:32], "big")
    return value if value <= 255 else None


def _clean(text: str) -> str | None:
    cleaned = text.replace("\x00", "").strip()[:_MAX_TEXT]
    return cleaned or None
