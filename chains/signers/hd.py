"""An HD-wallet signer: BIP-39 mnemonic, BIP-44 paths, keys derived per signature.

Paths (coin type 60, Ethereum and every EVM network alike):
- deposit address `i`: `m/44'/60'/0'/0/i` (account 0, external chain);
- gas wallet: `m/44'/60'/1'/0/0` (account 1), so no deposit index can ever collide with it.

Only the BIP-39 seed is held, inside an object that prints as `<redacted>`. A private key
exists only while one signature or one address is computed and is dropped before any
error is raised, so no traceback frame keeps it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any, NoReturn

from eth_account import Account
from eth_account.hdaccount import key_from_seed
from eth_account.hdaccount.mnemonic import Mnemonic
from eth_account.messages import encode_defunct
from eth_utils.crypto import keccak

from chains.evm.addresses import checksum
from chains.signers.base import SignedPayout
from chains.signers.development import DEVELOPMENT_MNEMONICS, normalised_phrase
from chains.signers.errors import (
    DevelopmentKeyRefused,
    InvalidDerivationPath,
    InvalidMnemonic,
    SignerError,
    TransactionNotSignable,
    UnknownSigningAddress,
)

DEPOSIT_PATH = "m/44'/60'/0'/0/{index}"
GAS_WALLET_PATH = "m/44'/60'/1'/0/0"

_PATH = re.compile(r"^m(/\d+'?)+$")
_MAX_INDEX = 2**31 - 1  # above this an index would be a hardened one


class _Seed:
    """Holds the BIP-39 seed; prints as `<redacted>` and refuses to be pickled."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes) -> None:
        self._value = value

    def reveal(self) -> bytes:
        return self._value

    def __repr__(self) -> str:
        return "<redacted>"

    def __reduce__(self) -> NoReturn:
        raise TypeError("key material cannot be pickled")


class HdSigner:
    """Signs payouts with keys derived from one mnemonic; refuses public dev mnemonics.

    `devnet_chain_ids` are the chain ids of networks the policy overlay marks as devnets
    (and whose node reported a development client). A chain id alone never proves a
    devnet (anvil reuses 1 and 56), so the caller builds this set from that mark. A
    well-known development mnemonic signs only for those chain ids, and a signer built
    from one with no devnet at all is refused outright.
    """

    __slots__ = ("_addresses", "_devnet_chain_ids", "_is_development", "_lock", "_paths", "_seed")

    def __init__(
        self,
        mnemonic: str,
        *,
        devnet_chain_ids: frozenset[int] | None,
        passphrase: str = "",
    ) -> None:
        self._devnet_chain_ids = frozenset(devnet_chain_ids or ())
        self._lock = threading.Lock()
        self._paths: dict[str, str] = {}  # lower-case address -> derivation path
        self._addresses: dict[str, str] = {}  # derivation path -> checksummed address
        words = normalised_phrase(mnemonic) if isinstance(mnemonic, str) else ""
        word_count = len(words.split())
        seed, expanded = _seed_from(words, passphrase)
        self._is_development = expanded in DEVELOPMENT_MNEMONICS
        # A traceback keeps this frame's locals (error trackers record them): drop the
        # secrets before anything below can raise.
        del mnemonic, passphrase, words, expanded
        if seed is None:
            raise InvalidMnemonic(word_count)
        self._seed = _Seed(seed)
        del seed
        if self._is_development and not self._devnet_chain_ids:
            raise DevelopmentKeyRefused(None, self._devnet_chain_ids)
        self.address_of(GAS_WALLET_PATH)

    def __repr__(self) -> str:
        kind = "development mnemonic" if self._is_development else "mnemonic"
        return (
            f"HdSigner(<{kind} redacted>, devnet_chain_ids={sorted(self._devnet_chain_ids)}, "
            f"addresses={len(self._paths)})"
        )

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("HdSigner holds key material and cannot be pickled")

    @property
    def is_development(self) -> bool:
        """Whether the mnemonic is a publicly known development one."""
        return self._is_development

    @property
    def devnet_chain_ids(self) -> frozenset[int]:
        """Chain ids for which a development mnemonic may sign."""
        return self._devnet_chain_ids

    @property
    def gas_wallet_address(self) -> str:
        """Address of the gas wallet (`m/44'/60'/1'/0/0`) that tops deposit addresses up."""
        return self.address_of(GAS_WALLET_PATH)

    def register_deposit_index(self, index: int) -> str:
        """Derive deposit address `index` (`m/44'/60'/0'/0/index`) and remember it."""
        return self.address_of(index)

    def address_of(self, path_or_index: int | str) -> str:
        """Checksummed address of a deposit index or a full path; remembered for signing."""
        path = _path(path_or_index)
        with self._lock:
            known = self._addresses.get(path)
        if known is not None:
            return known
        address = _address_at(self._seed, path)
        with self._lock:
            self._paths[address.lower()] = path
            self._addresses[path] = address
        return address

    def path_of(self, address: str) -> str | None:
        """The derivation path of an address this signer derived, else None."""
        with self._lock:
            return self._paths.get(str(address).lower())

    def check_chain(self, chain_id: int) -> None:
        """Raise `DevelopmentKeyRefused` if this signer may not sign for `chain_id`."""
        if self._is_development and chain_id not in self._devnet_chain_ids:
            raise DevelopmentKeyRefused(chain_id, self._devnet_chain_ids)

    def sign_transaction(self, address: str, tx: Mapping[str, Any], chain_id: int) -> SignedPayout:
        """Sign `tx` for `chain_id` with the key of `address`; the key is derived and dropped.

        `tx` uses eth-account field names (`to`, `value`, `nonce`, `gas`, `data`, and
        `maxFeePerGas`/`maxPriorityFeePerGas` or `gasPrice`). Its `chainId` is set to
        `chain_id` (a different one is refused) and a `from` must be `address`.
        """
        if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id <= 0:
            raise TransactionNotSignable(str(address), -1, f"chain id {chain_id!r} is invalid")
        self.check_chain(chain_id)
        path = self._require_path(address)
        prepared = _prepared(address, tx, chain_id)
        raw, problem = _sign_at(self._seed, path, prepared)
        if raw is None:
            raise TransactionNotSignable(checksum(address), chain_id, problem)
        tx_hash = "0x" + keccak(raw).hex()
        return SignedPayout(
            sender=checksum(address),
            chain_id=chain_id,
            nonce=int(prepared["nonce"]),
            raw_transaction=raw,
            tx_hash=tx_hash,
        )

    def sign_message(self, address: str, message: str) -> str:
        """EIP-191 (`personal_sign`) signature of `message` by `address`, 0x hex."""
        if not isinstance(message, str):
            raise SignerError(f"message must be text, got {type(message).__name__}")
        path = self._require_path(address)
        signature, problem = _sign_message_at(self._seed, path, message)
        if signature is None:
            raise SignerError(f"cannot sign a message for {checksum(address)}: {problem}")
        return signature

    def _require_path(self, address: str) -> str:
        path = self.path_of(address)
        if path is None:
            raise UnknownSigningAddress(str(address))
        return path


def _path(path_or_index: int | str) -> str:
    if isinstance(path_or_index, bool):
        raise InvalidDerivationPath(path_or_index)
    if isinstance(path_or_index, int):
        if not 0 <= path_or_index <= _MAX_INDEX:
            raise InvalidDerivationPath(path_or_index)
        return DEPOSIT_PATH.format(index=path_or_index)
    if isinstance(path_or_index, str) and _PATH.match(path_or_index):
        return path_or_index
    raise InvalidDerivationPath(path_or_index)


def _seed_from(words: str, passphrase: str) -> tuple[bytes | None, str]:
    """BIP-39 seed and the expanded phrase; (None, "") when invalid.

    eth-account's own error quotes the words, so it is swallowed here, never chained.
    """
    try:
        language = Mnemonic.detect_language(words)
        expanded = str(Mnemonic(language).expand(words))
        if not Mnemonic(language).is_mnemonic_valid(expanded):
            return None, ""
        return bytes(Mnemonic.to_seed(expanded, passphrase)), expanded
    except Exception:
        return None, ""


def _address_at(seed: _Seed, path: str) -> str:
    key = key_from_seed(seed.reveal(), path)
    try:
        return checksum(str(Account.from_key(key).address))
    finally:
        del key


def _sign_at(seed: _Seed, path: str, tx: dict[str, Any]) -> tuple[bytes | None, str]:
    """Raw signed transaction, or None and the reason; nothing raised while a key is live."""
    key = key_from_seed(seed.reveal(), path)
    try:
        signed = Account.sign_transaction(tx, key)
        return bytes(signed.raw_transaction), ""
    except Exception as exc:  # eth-account raises several types for bad fields
        return None, _redacted(f"{type(exc).__name__}: {exc}", key)
    finally:
        del key


def _sign_message_at(seed: _Seed, path: str, message: str) -> tuple[str | None, str]:
    key = key_from_seed(seed.reveal(), path)
    try:
        signed = Account.sign_message(encode_defunct(text=message), key)
        return str(signed.signature.to_0x_hex()), ""
    except Exception as exc:
        return None, _redacted(f"{type(exc).__name__}: {exc}", key)
    finally:
        del key


def _redacted(text: str, key: bytes) -> str:
    return text.replace(key.hex(), "<redacted>").replace(key.hex().upper(), "<redacted>")


def _prepared(address: str, tx: Mapping[str, Any], chain_id: int) -> dict[str, Any]:
    def refuse(detail: str) -> NoReturn:
        raise TransactionNotSignable(checksum(address), chain_id, detail)

    if not isinstance(tx, Mapping):
        refuse(f"transaction must be a mapping, got {type(tx).__name__}")
    prepared = dict(tx)
    given = prepared.get("chainId")
    if given is not None and given != chain_id:
        refuse(f"the transaction names chain id {given!r}")
    prepared["chainId"] = chain_id
    sender = prepared.get("from")
    if sender is not None and str(sender).lower() != address.lower():
        refuse(f"the transaction's from is {sender}")
    if not prepared.get("to"):
        refuse("a payout needs a recipient (`to`); contract creation is not signed")
    for field in ("nonce", "gas"):
        value = prepared.get(field)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            refuse(f"{field} must be a non-negative integer, got {value!r}")
    return prepared
