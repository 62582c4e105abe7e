"""Address and transaction-hash formats per chain family, with clear refusals."""

from __future__ import annotations

import re
from collections.abc import Callable

from eth_utils.address import is_checksum_address, to_checksum_address

from recovery.errors import InvalidInput

_HEX40 = re.compile(r"^0x[0-9a-fA-F]{40}$")
_HEX64_0X = re.compile(r"^0x[0-9a-fA-F]{64}$")
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_TRON_ADDRESS = re.compile(rf"^T[{_BASE58}]{{33}}$")
_SOLANA_ADDRESS = re.compile(rf"^[{_BASE58}]{{32,44}}$")
_SOLANA_SIGNATURE = re.compile(rf"^[{_BASE58}]{{64,88}}$")
_BITCOIN_ADDRESS = re.compile(rf"^([13][{_BASE58}]{{25,34}}|(bc1|tb1)[02-9ac-hj-np-z]{{11,71}})$")
_BECH32_ADDRESS = re.compile(r"^[a-z]{1,16}1[02-9ac-hj-np-z]{38,90}$")
_GENERIC = re.compile(r"^[0-9A-Za-z:_\-.]{8,128}$")


def evm_address(value: str, field: str) -> str:
    """A checksummed EVM address; a mixed-case address with a wrong checksum is refused."""
    if not _HEX40.match(value):
        raise InvalidInput(
            f"{field}: {value!r} is not an EVM address (0x followed by 40 hex digits)"
        )
    body = value[2:]
    mixed = body != body.lower() and body != body.upper()
    if mixed and not is_checksum_address(value):
        raise InvalidInput(
            f"{field}: {value} has a wrong EIP-55 checksum; it may be mistyped. "
            f"Copy it again, or send it in all lowercase"
        )
    return str(to_checksum_address(value))


def evm_tx_hash(value: str, field: str) -> str:
    """A lowercase 0x-prefixed 32-byte transaction hash."""
    if not _HEX64_0X.match(value):
        raise InvalidInput(
            f"{field}: {value!r} is not an EVM transaction hash (0x + 64 hex digits)"
        )
    return value.lower()


def _pattern(kind: str, pattern: re.Pattern[str], example: str) -> Callable[[str, str], str]:
    def check(value: str, field: str) -> str:
        if not pattern.match(value):
            raise InvalidInput(f"{field}: {value!r} is not a valid {kind} (expected {example})")
        return value

    return check


def _hex64(kind: str) -> Callable[[str, str], str]:
    def check(value: str, field: str) -> str:
        bare = value[2:] if value.lower().startswith("0x") else value
        if not _HEX64.match(bare):
            raise InvalidInput(f"{field}: {value!r} is not a valid {kind} (64 hex digits)")
        return bare.lower()

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
    return ADDRESS_FORMATS.get(family, _generic)(value.strip(), field)


def tx_hash(family: str, value: str, field: str) -> str:
    """Validate and normalise a transaction hash of `family`."""
    return TX_HASH_FORMATS.get(family, _generic)(value.strip(), field)
