"""Address and transaction-hash formats per chain family, with clear refusals.

The patterns are also what the OpenAPI contract declares (recovery/appeals/contract.py),
so they are written for both Python and ECMA-262 regexes and matched in full: a value
with padding or a trailing newline is refused, as the contract says.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from eth_utils.address import is_checksum_address, to_checksum_address

from recovery.errors import InvalidInput

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BECH32 = "02-9ac-hj-np-z"

EVM_ADDRESS = r"^0x[0-9a-fA-F]{40}$"
EVM_TX_HASH = r"^0x[0-9a-fA-F]{64}$"
HEX64 = r"^(0[xX])?[0-9a-fA-F]{64}$"
TRON_ADDRESS = rf"^T[{_BASE58}]{{33}}$"
SOLANA_ADDRESS = rf"^[{_BASE58}]{{32,44}}$"
SOLANA_SIGNATURE = rf"^[{_BASE58}]{{64,88}}$"
BITCOIN_ADDRESS = rf"^([13][{_BASE58}]{{25,34}}|(bc1|tb1)[{_BECH32}]{{11,71}})$"
BECH32_ADDRESS = rf"^[a-z]{{1,16}}1[{_BECH32}]{{38,90}}$"
GENERIC = r"^[0-9A-Za-z:_\-.]{8,128}$"

# The contract's pattern of an address and of a transaction hash, per chain family.
ADDRESS_PATTERNS: dict[str, str] = {
    "evm": EVM_ADDRESS,
    "tron": TRON_ADDRESS,
    "solana": SOLANA_ADDRESS,
    "utxo": BITCOIN_ADDRESS,
    "cosmos": BECH32_ADDRESS,
}
TX_HASH_PATTERNS: dict[str, str] = {
    "evm": EVM_TX_HASH,
    "tron": HEX64,
    "utxo": HEX64,
    "cosmos": HEX64,
    "solana": SOLANA_SIGNATURE,
}


def _full(pattern: str) -> re.Pattern[str]:
    # Python's `$` also matches before a final newline, ECMA's does not: match in full.
    return re.compile(pattern.removeprefix("^").removesuffix("$"))


_HEX40 = _full(EVM_ADDRESS)
_HEX64_0X = _full(EVM_TX_HASH)
_HEX64 = _full(HEX64)
_TRON_ADDRESS = _full(TRON_ADDRESS)
_SOLANA_ADDRESS = _full(SOLANA_ADDRESS)
_SOLANA_SIGNATURE = _full(SOLANA_SIGNATURE)
_BITCOIN_ADDRESS = _full(BITCOIN_ADDRESS)
_BECH32_ADDRESS = _full(BECH32_ADDRESS)
_GENERIC = _full(GENERIC)


def evm_address(value: str, field: str) -> str:
    """A checksummed EVM address; a mixed-case address with a wrong checksum is refused."""
    if not _HEX40.fullmatch(value):
        raise InvalidInput(
            f"{field}: {value!r} is not an EVM address (0x followed by 40 hex digits)"
        )
    checksummed = _checksummed(value)
    if checksummed is None:
        raise InvalidInput(
            f"{field}: {value} has a wrong EIP-55 checksum; it may be mistyped. "
            f"Copy it again, or send it in all lowercase"
        )
    return checksummed


@lru_cache(maxsize=65_536)
def _checksummed(value: str) -> str | None:
    """The EIP-55 form of a 0x-and-40-hex address; None for a mixed-case one whose
    checksum is wrong. Remembered: each costs two Keccak hashes, and a filing checks the
    same deposit and refund addresses again and again."""
    body = value[2:]
    mixed = body != body.lower() and body != body.upper()
    if mixed and not is_checksum_address(value):
        return None
    return str(to_checksum_address(value))


def evm_tx_hash(value: str, field: str) -> str:
    """A lowercase 0x-prefixed 32-byte transaction hash."""
    if not _HEX64_0X.fullmatch(value):
        raise InvalidInput(
            f"{field}: {value!r} is not an EVM transaction hash (0x + 64 hex digits)"
        )
    return value.lower()


def _pattern(kind: str, pattern: re.Pattern[str], example: str) -> Callable[[str, str], str]:
    def check(value: str, field: str) -> str:
        if not pattern.fullmatch(value):
            raise InvalidInput(f"{field}: {value!r} is not a valid {kind} (expected {example})")
        return value

    return check


def _hex64(kind: str) -> Callable[[str, str], str]:
    def check(value: str, field: str) -> str:
        if not _HEX64.fullmatch(value):
            raise InvalidInput(f"{field}: {value!r} is not a valid {kind} (64 hex digits)")
        return value.removeprefix("0x").removeprefix("0X").lower()

    return check


ADDRESS_FORMATS: dict[str, Callable[[str, str], str]] = {
    "evm": evm_address,
    "tron": _pattern("TRON address", _TRON_ADDRESS, "T followed by 33 base58 characters"),
    "solana": _pattern("Solana address", _SOLANA_ADDRESS, "32 to 44 base58 characters"),
    "utxo": _pattern("Bitcoin-style address", _BITCOIN_ADDRESS, "a base58 or bech32 address"),
    "cosmos": _pattern("bech32 address", _BECH32_ADDRESS, "prefix1 followed by bech32 data"),
}

TX_HASH_FORMATS: dict[str, Callable[[str, str], str]] = {
    "evm": evm_tx_hash,
    "tron": _hex64("TRON transaction id"),
    "utxo": _hex64("transaction id"),
    "cosmos": _hex64("transaction hash"),
    "solana": _pattern("Solana signature", _SOLANA_SIGNATURE, "64 to 88 base58 characters"),
}

_generic = _pattern("address or hash", _GENERIC, "8 to 128 letters, digits or :_-.")


def address(family: str, value: str, field: str) -> str:
    """Validate and normalise an address of `family`."""
    return ADDRESS_FORMATS.get(family, _generic)(value, field)


def tx_hash(family: str, value: str, field: str) -> str:
    """Validate and normalise a transaction hash of `family`."""
    return TX_HASH_FORMATS.get(family, _generic)(value, field)
