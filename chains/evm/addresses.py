"""EIP-55 checksummed addresses, computed fast and cached.

A batch of a thousand receipts holds thousands of addresses, mostly repeats (the token,
the deposit addresses); eth_utils' generic `to_checksum_address` dominated the time
spent reading such a batch.
"""

from __future__ import annotations

from functools import lru_cache

from eth_hash.auto import keccak


@lru_cache(maxsize=65_536)
def checksum(address: str) -> str:
    """`address` (0x + 40 hex digits, any case) in EIP-55 mixed case."""
    lower = address.lower().removeprefix("0x")
    if len(lower) != 40:
        raise ValueError(f"{address!r} is not a 20-byte address")
    int(lower, 16)  # rejects non-hex digits
    digest = keccak(lower.encode()).hex()
    return "0x" + "".join(
        char.upper() if int(nibble, 16) >= 8 else char
        for char, nibble in zip(lower, digest, strict=False)
    )
