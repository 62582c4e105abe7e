"""Errors raised by signers. None of them ever carries key material or mnemonic words."""

from __future__ import annotations

from chains.errors import ChainError


class SignerError(ChainError):
    """Raised when a signer cannot or will not produce a signature."""


class InvalidMnemonic(SignerError, ValueError):
    """Raised when the configured mnemonic is not a valid BIP-39 phrase (words not shown)."""

    def __init__(self, word_count: int) -> None:
        self.word_count = word_count
        super().__init__(
            f"the configured mnemonic ({word_count} words) is not a valid BIP-39 phrase"
        )


class DevelopmentKeyRefused(SignerError):
    """Raised when a well-known development mnemonic would sign for a chain not marked devnet."""

    def __init__(self, chain_id: int | None, devnet_chain_ids: frozenset[int]) -> None:
        self.chain_id = chain_id
        self.devnet_chain_ids = devnet_chain_ids
        marked = sorted(devnet_chain_ids) or "none"
        if chain_id is None:
            detail = "no chain is marked devnet for this signer"
        else:
            detail = f"chain id {chain_id} is not a devnet (devnet chain ids: {marked})"
        super().__init__(f"refusing to use the public development mnemonic: {detail}")


class UnknownSigningAddress(SignerError):
    """Raised when asked to sign for an address this signer has not derived."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__(
            f"{address} is not a derived address of this signer; "
            "register its deposit index (or path) first"
        )


class InvalidDerivationPath(SignerError, ValueError):
    """Raised when a deposit index or derivation path is malformed."""

    def __init__(self, value: object) -> None:
        self.value = value
        super().__init__(
            f"{value!r} is neither a deposit index (int >= 0) "
            "nor a BIP-32 path like m/44'/60'/0'/0/0"
        )


class TransactionNotSignable(SignerError, ValueError):
    """Raised when a transaction dict cannot be signed as given (wrong chain id, sender, fields)."""

    def __init__(self, address: str, chain_id: int, detail: str) -> None:
        self.address = address
        self.chain_id = chain_id
        self.detail = detail
        super().__init__(f"cannot sign for {address} on chain id {chain_id}: {detail}")


class InvalidSignature(SignerError, ValueError):
    """Raised when a message signature is malformed or recovers no address."""

    def __init__(self, signature: object, detail: str) -> None:
        self.signature = signature
        self.detail = detail
        shown = repr(signature) if len(repr(signature)) <= 140 else repr(signature)[:137] + "..."
        super().__init__(f"signature {shown} is not a valid EIP-191 signature: {detail}")
