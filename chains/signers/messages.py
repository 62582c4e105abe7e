"""EIP-191 message signatures: recover who signed a proof of ownership."""

from __future__ import annotations

import re

from eth_account import Account
from eth_account.messages import encode_defunct

from chains.evm.addresses import checksum
from chains.signers.errors import InvalidSignature

_SIGNATURE = re.compile(r"^(0x)?[0-9a-fA-F]{130}$")


def verify_message_signature(message: str, signature: str) -> str:
    """The checksummed address that signed `message` (EIP-191 `personal_sign`).

    Raises `InvalidSignature` when `signature` is not 65 bytes of hex or recovers nothing.
    A well-formed signature by someone else recovers someone else's address: compare it.
    """
    if not isinstance(message, str):
        raise InvalidSignature(signature, f"message must be text, got {type(message).__name__}")
    if not isinstance(signature, str) or not _SIGNATURE.match(signature.strip()):
        raise InvalidSignature(signature, "expected 65 bytes as 130 hex digits (r, s, v)")
    raw = bytes.fromhex(signature.strip().removeprefix("0x"))
    problem: str | None = None
    recovered = ""
    try:
        recovered = str(Account.recover_message(encode_defunct(text=message), signature=raw))
    except Exception as exc:  # eth-keys raises several types for bad r, s or v
        problem = f"{type(exc).__name__}: {exc}"
    if problem is not None:
        raise InvalidSignature(signature, problem)
    return checksum(recovered)
