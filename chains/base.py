"""The chain adapter interface and the plain facts it returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from chains.errors import BroadcastAmbiguous, ChainError, RpcUnavailable

__all__ = [
    "AccountCode",
    "BroadcastAmbiguous",
    "ChainAdapter",
    "ChainError",
    "HeadView",
    "NativeMove",
    "RpcUnavailable",
    "TokenMetadata",
    "TokenTransfer",
    "TransactionFacts",
    "TransactionStatus",
]

TransactionStatus = Literal["success", "failed"]


@dataclass(frozen=True, slots=True)
class TokenTransfer:
    """One ERC-20 `Transfer` log: `value` base units of `token` from `sender` to `recipient`.

    Addresses are checksummed; `log_index` is the log's index within its block.
    """

    token: str
    sender: str
    recipient: str
    value: int
    log_index: int


@dataclass(frozen=True, slots=True)
class TransactionFacts:
    """What the chain says about one mined transaction."""

    tx_hash: str
    status: TransactionStatus
    block_number: int
    block_hash: str
    sender: str
    recipient: str | None
    native_value: int
    transfers: tuple[TokenTransfer, ...]

    def transfers_to(self, address: str) -> tuple[TokenTransfer, ...]:
        """Token transfers in this transaction whose recipient is `address`."""
        wanted = address.lower()
        return tuple(t for t in self.transfers if t.recipient.lower() == wanted)


@dataclass(frozen=True, slots=True)
class HeadView:
    """A head and block hashes read together from one endpoint that is not lagging.

    `block_hashes` has every requested height: the canonical hash, or None when the
    height is above `head`. `endpoint` names the endpoint (no path or query).
    """

    head: int
    block_hashes: dict[int, str | None]
    endpoint: str


@dataclass(frozen=True, slots=True)
class NativeMove:
    """Native value one call frame of a transaction moved, read from the node's call trace.

    The transaction's own (top-level) value is its first frame; frames that reverted, or
    sit inside a frame that reverted, moved nothing and are left out.
    """

    sender: str
    recipient: str
    value: int
    depth: int


def value_into(moves: Sequence[NativeMove], address: str) -> int:
    """Native base units that `moves` put into `address` (all frames together)."""
    wanted = address.lower()
    return sum(m.value for m in moves if m.recipient.lower() == wanted)


AccountCodeKind = Literal["none", "contract", "delegation"]


@dataclass(frozen=True, slots=True)
class AccountCode:
    """What an address holds: no code, a contract's code, or an EIP-7702 delegation."""

    kind: AccountCodeKind
    # The account the delegation points to (kind "delegation" only).
    delegate: str | None = None

    @property
    def has_code(self) -> bool:
        """True for a contract and for a delegated account alike."""
        return self.kind != "none"


@dataclass(frozen=True, slots=True)
class TokenMetadata:
    """A token's self-description; a field is None when the token does not say."""

    address: str
    symbol: str | None
    name: str | None
    decimals: int | None
    transfer_returns_bool: bool | None = None


@runtime_checkable
class ChainAdapter(Protocol):
    """Reads one network. Batch methods take many keys and make few round trips."""

    network: str

    def client_version(self) -> str:
        """The node software's own name and version (`web3_clientVersion`)."""
        ...

    def chain_id(self) -> int:
        """The chain id the node serves."""
        ...

    def head(self) -> int:
        """Number of the latest block."""
        ...

    def transactions(self, hashes: Sequence[str]) -> dict[str, TransactionFacts | None]:
        """Facts per hash, keyed by the hash as given; None when not found or not mined."""
        ...

    def block_hashes(self, numbers: Sequence[int]) -> dict[int, str | None]:
        """Canonical block hash per height; None above the head."""
        ...

    def head_view(self, numbers: Sequence[int]) -> HeadView:
        """The head and the hashes of `numbers`, from one endpoint that is not lagging."""
        ...

    def has_code(self, addresses: Sequence[str]) -> dict[str, bool]:
        """Whether each address holds contract code, keyed by the address as given."""
        ...

    def account_codes(self, addresses: Sequence[str]) -> dict[str, AccountCode]:
        """What code each address holds (none, contract, delegation), keyed as given."""
        ...

    def native_moves(self, hashes: Sequence[str]) -> dict[str, tuple[NativeMove, ...] | None]:
        """Native value moved by every call frame of each transaction, from a call trace.

        None for a transaction the node does not know. Only for networks whose nodes trace.
        """
        ...

    def token_metadata(self, token: str) -> TokenMetadata:
        """Symbol, name and decimals of a token, None for each one it does not expose."""
        ...

    def native_balance(self, address: str) -> int:
        """Native coin balance of `address` in base units at the head."""
        ...

    def token_balance(self, token: str, address: str) -> int:
        """Balance of `address` in `token` base units at the head."""
        ...
