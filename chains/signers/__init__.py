"""Signers: keys derived from an HD wallet, never shown; EIP-191 signature checks."""

from chains.signers.base import SignedPayout, Signer
from chains.signers.development import DEVELOPMENT_MNEMONICS, is_development_mnemonic
from chains.signers.errors import (
    DevelopmentKeyRefused,
    InvalidDerivationPath,
    InvalidMnemonic,
    InvalidSignature,
    SignerError,
    TransactionNotSignable,
    UnknownSigningAddress,
)
from chains.signers.hd import DEPOSIT_PATH, GAS_WALLET_PATH, HdSigner
from chains.signers.messages import verify_message_signature

__all__ = [
    "DEPOSIT_PATH",
    "DEVELOPMENT_MNEMONICS",
    "GAS_WALLET_PATH",
    "DevelopmentKeyRefused",
    "HdSigner",
    "InvalidDerivationPath",
    "InvalidMnemonic",
    "InvalidSignature",
    "SignedPayout",
    "Signer",
    "SignerError",
    "TransactionNotSignable",
    "UnknownSigningAddress",
    "is_development_mnemonic",
    "verify_message_signature",
]
