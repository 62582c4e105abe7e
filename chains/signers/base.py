"""The signer interface and what a signature of a payout transaction gives back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class SignedPayout:
    """A signed transaction, ready to be written down and then broadcast.

    `raw_transaction` is what `eth_sendRawTransaction` takes; `tx_hash` (0x, lower case)
    is the keccak of it, known before anything is sent.
    """

    sender: str
    chain_id: int
    nonce: int
    raw_transaction: bytes
    tx_hash: str

    @property
    def raw_hex(self) -> str:
        """The raw transaction as 0x-prefixed hex, for storage."""
        return "0x" + self.raw_transaction.hex()


@runtime_checkable
class Signer(Protocol):
    """Signs for addresses it derived itself; never returns or logs a key."""

    def address_of(self, path_or_index: int | str) -> str:
        """Checksummed address of a deposit index or a derivation path (remembered for signing)."""
        ...

    def sign_transaction(self, address: str, tx: Mapping[str, Any], chain_id: int) -> SignedPayout:
        """Sign `tx` (eth-account field names) with the key of `address` for `chain_id`."""
        ...

    def sign_message(self, address: str, message: str) -> str:
        """EIP-191 (`personal_sign`) signature of `message` by `address`, 0x hex."""
        ...
