"""Payout transactions: fee parameters, transfer builders, receipts, one-shot broadcast.

Builders are pure: they check their inputs and return the eth-account style dict that a
`Signer` signs. Nonces come from the caller (the service allocates them from its
database); nothing here reads a nonce from a node.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any, Protocol

from eth_abi.abi import decode, encode
from eth_abi.exceptions import DecodingError
from eth_utils.crypto import keccak

from chains.base import TokenTransfer, TransactionStatus
from chains.errors import BroadcastAmbiguous, BroadcastRejected, ChainError, RpcUnavailable
from chains.evm.addresses import checksum

__all__ = [
    "ERC20_TRANSFER_SELECTOR",
    "MIN_REPLACEMENT_BUMP_PERCENT",
    "NATIVE_TRANSFER_GAS",
    "BroadcastOutcome",
    "BroadcastResult",
    "FeeParams",
    "InvalidPayoutTransaction",
    "Receipt",
    "TransferSimulation",
    "broadcast_payout",
    "bumped",
    "erc20_transfer_tx",
    "native_transfer_tx",
    "revert_reason",
]

NATIVE_TRANSFER_GAS = 21_000
ERC20_TRANSFER_SELECTOR = keccak(text="transfer(address,uint256)")[:4]
# geth, erigon and BSC ask 10% more on each fee field to replace a pending transaction;
# 12.5% also clears nodes that compare after their own rounding.
MIN_REPLACEMENT_BUMP_PERCENT = Fraction(25, 2)
_UINT256_MAX = 2**256 - 1
_ERROR_SELECTOR = keccak(text="Error(string)")[:4]
_PANIC_SELECTOR = keccak(text="Panic(uint256)")[:4]
_ZERO_ADDRESS = "0x" + "0" * 40


class InvalidPayoutTransaction(ChainError, ValueError):
    """Raised when a payout transaction is asked for with an impossible field."""

    def __init__(self, field: str, value: object, detail: str) -> None:
        self.field = field
        self.value = value
        super().__init__(f"payout transaction field {field}={value!r}: {detail}")


@dataclass(frozen=True, slots=True)
class FeeParams:
    """Per-gas fees in wei: EIP-1559 (`max_fee_per_gas` + tip) or legacy `gas_price`."""

    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None
    gas_price: int | None = None

    def __post_init__(self) -> None:
        dynamic = (self.max_fee_per_gas, self.max_priority_fee_per_gas)
        if self.gas_price is None:
            if None in dynamic:
                raise InvalidPayoutTransaction(
                    "fees", self, "give max_fee_per_gas and max_priority_fee_per_gas, or gas_price"
                )
        elif dynamic != (None, None):
            raise InvalidPayoutTransaction("fees", self, "gas_price excludes the EIP-1559 fields")
        for name in ("max_fee_per_gas", "max_priority_fee_per_gas", "gas_price"):
            value = getattr(self, name)
            if value is not None:
                _natural(name, value)
        if (
            self.max_fee_per_gas is not None
            and self.max_priority_fee_per_gas is not None
            and self.max_priority_fee_per_gas > self.max_fee_per_gas
        ):
            raise InvalidPayoutTransaction(
                "max_priority_fee_per_gas",
                self.max_priority_fee_per_gas,
                f"exceeds max_fee_per_gas {self.max_fee_per_gas}",
            )

    @classmethod
    def eip1559(cls, max_fee_per_gas: int, max_priority_fee_per_gas: int) -> FeeParams:
        """EIP-1559 fees."""
        return cls(
            max_fee_per_gas=max_fee_per_gas, max_priority_fee_per_gas=max_priority_fee_per_gas
        )

    @classmethod
    def legacy(cls, gas_price: int) -> FeeParams:
        """A legacy (type 0, EIP-155) gas price."""
        return cls(gas_price=gas_price)

    @property
    def is_eip1559(self) -> bool:
        """Whether these are EIP-1559 fees."""
        return self.gas_price is None

    def max_cost(self, gas: int) -> int:
        """The most `gas` units can cost in wei: what a sender must hold besides the value."""
        per_gas = self.max_fee_per_gas if self.gas_price is None else self.gas_price
        return _natural("gas", gas) * (per_gas or 0)  # __post_init__ made it an int

    def as_tx_fields(self) -> dict[str, int]:
        """The fee fields of an eth-account transaction dict (with `type` for EIP-1559)."""
        if self.max_fee_per_gas is not None and self.max_priority_fee_per_gas is not None:
            return {
                "type": 2,
                "maxFeePerGas": self.max_fee_per_gas,
                "maxPriorityFeePerGas": self.max_priority_fee_per_gas,
            }
        return {"gasPrice": self.gas_price or 0}  # __post_init__ made gas_price an int


def bumped(
    fees: FeeParams, percent: float | Fraction | str = MIN_REPLACEMENT_BUMP_PERCENT
) -> FeeParams:
    """`fees` raised by at least `percent` (12.5 or more) on every field, rounded up.

    Each field also grows by at least 1 wei, so a zero tip becomes a replacement too.
    """
    factor = Fraction(str(percent)) if isinstance(percent, float) else Fraction(percent)
    if factor < MIN_REPLACEMENT_BUMP_PERCENT:
        raise InvalidPayoutTransaction(
            "percent",
            percent,
            f"a replacement needs at least {float(MIN_REPLACEMENT_BUMP_PERCENT)}%",
        )

    def up(value: int) -> int:
        return max(math.ceil(value * (100 + factor) / 100), value + 1)

    if fees.max_fee_per_gas is not None and fees.max_priority_fee_per_gas is not None:
        return FeeParams.eip1559(up(fees.max_fee_per_gas), up(fees.max_priority_fee_per_gas))
    return FeeParams.legacy(up(fees.gas_price or 0))


def native_transfer_tx(
    *,
    sender: str,
    recipient: str,
    value: int,
    nonce: int,
    fees: FeeParams,
    chain_id: int,
    gas: int = NATIVE_TRANSFER_GAS,
) -> dict[str, Any]:
    """A transaction moving `value` wei of the native coin from `sender` to `recipient`."""
    return _transaction(
        sender=sender,
        to=_recipient("recipient", recipient),
        value=_amount(value),
        data=b"",
        nonce=nonce,
        fees=fees,
        gas=gas,
        chain_id=chain_id,
    )


def erc20_transfer_tx(
    *,
    token: str,
    sender: str,
    recipient: str,
    value: int,
    nonce: int,
    fees: FeeParams,
    gas: int,
    chain_id: int,
) -> dict[str, Any]:
    """A call of `token.transfer(recipient, value)` from `sender` (no native value)."""
    to = _address("token", token)
    payee = _recipient("recipient", recipient)
    data = ERC20_TRANSFER_SELECTOR + encode(["address", "uint256"], [payee, _amount(value)])
    return _transaction(
        sender=sender, to=to, value=0, data=data, nonce=nonce, fees=fees, gas=gas, chain_id=chain_id
    )


def _transaction(
    *,
    sender: str,
    to: str,
    value: int,
    data: bytes,
    nonce: int,
    fees: FeeParams,
    gas: int,
    chain_id: int,
) -> dict[str, Any]:
    if not isinstance(fees, FeeParams):
        raise InvalidPayoutTransaction("fees", fees, "expected FeeParams")
    if _natural("gas", gas) < NATIVE_TRANSFER_GAS:
        raise InvalidPayoutTransaction("gas", gas, f"below the {NATIVE_TRANSFER_GAS} any tx needs")
    if _natural("chain_id", chain_id) == 0:
        raise InvalidPayoutTransaction("chain_id", chain_id, "must be positive")
    return {
        "chainId": chain_id,
        "from": _address("sender", sender),
        "to": to,
        "value": value,
        "data": "0x" + data.hex(),
        "nonce": _natural("nonce", nonce),
        "gas": gas,
        **fees.as_tx_fields(),
    }


def _natural(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidPayoutTransaction(field, value, "must be a non-negative integer")
    return value


def _amount(value: object) -> int:
    amount = _natural("value", value)
    if amount > _UINT256_MAX:
        raise InvalidPayoutTransaction("value", value, "does not fit in uint256")
    return amount


def _address(field: str, value: object) -> str:
    try:
        if not isinstance(value, str) or not value.startswith("0x"):
            raise ValueError(value)
        return checksum(value)
    except ValueError:
        raise InvalidPayoutTransaction(field, value, "is not a 0x address of 20 bytes") from None


def _recipient(field: str, value: object) -> str:
    address = _address(field, value)
    if address == _ZERO_ADDRESS:
        raise InvalidPayoutTransaction(field, value, "the zero address would burn the payout")
    return address


@dataclass(frozen=True, slots=True)
class Receipt:
    """A mined transaction's receipt: whether it succeeded, where, and what it burned.

    `transfers` are the ERC-20 `Transfer` logs among its `logs_count` logs, in log order,
    each with `token` = the address that emitted the log. Status 1 proves only that the
    call did not revert: what arrived is in `transfers` and in the balances.
    """

    tx_hash: str
    status: TransactionStatus
    block_number: int
    block_hash: str
    gas_used: int
    effective_gas_price: int | None = None
    transfers: tuple[TokenTransfer, ...] = ()
    logs_count: int = 0

    def transfers_to(self, address: str) -> tuple[TokenTransfer, ...]:
        """Token transfers in this receipt whose recipient is `address`."""
        wanted = address.lower()
        return tuple(t for t in self.transfers if t.recipient.lower() == wanted)

    @property
    def fee_paid(self) -> int | None:
        """Wei the sender paid for gas, when the node reported the effective gas price."""
        if self.effective_gas_price is None:
            return None
        return self.gas_used * self.effective_gas_price


@dataclass(frozen=True, slots=True)
class TransferSimulation:
    """What a transfer of `amount` from a sender to a recipient would do, not yet sent.

    `ok` is False when the transfer would revert, return `false`, or move nothing to the
    recipient. `delivered` is how many base units the recipient's balance would rise by,
    None when the node cannot tell (no `eth_simulateV1`, or the balance is unreadable).
    `reason` says why it is not ok: a decoded `Error(string)` reason (`paused`), a
    `Panic(0x11)`, a custom error's selector in hex (`0x1234abcd`),
    `transfer() returned false`, or the node's own message. `returned_false` is True when
    the token answered `false` without reverting. `gas_used` is the node's gas estimate
    for the transfer, else the gas the simulation used, else None.
    """

    ok: bool
    delivered: int | None
    reason: str | None = None
    returned_false: bool = False
    gas_used: int | None = None


def revert_reason(data: bytes) -> str | None:
    """A readable reason from a call's revert data; None when there is no data.

    `Error(string)` gives its text, `Panic(uint256)` gives `Panic(0x..)`, anything else
    (a custom error) gives its 4-byte selector in hex.
    """
    if not data:
        return None
    selector, payload = data[:4], data[4:]
    try:
        if selector == _ERROR_SELECTOR:
            (text,) = decode(["string"], payload)
            return str(text)
        if selector == _PANIC_SELECTOR:
            (code,) = decode(["uint256"], payload)
            return f"Panic({int(code):#x})"
    except (DecodingError, OverflowError, UnicodeDecodeError, ValueError):
        pass
    return "0x" + selector.hex()


class BroadcastOutcome(StrEnum):
    """What one broadcast attempt means for the payout that made it."""

    ACCEPTED = "accepted"  # a node took it, or already held this very transaction
    LOOK_UP = "look_up"  # nonce taken or tx known: the candidate hashes decide, not this answer
    AMBIGUOUS = "ambiguous"  # the request left but no answer came: look the hash up, never re-sign
    REJECTED = "rejected"  # the node refused this transaction for a reason of its own
    NOT_SENT = "not_sent"  # no endpoint could be reached; nothing left this process


@dataclass(frozen=True, slots=True)
class BroadcastResult:
    """The outcome of broadcasting one signed payout, with the hash it concerns."""

    outcome: BroadcastOutcome
    tx_hash: str
    detail: str = ""


class RawTransactionSender(Protocol):
    """Anything that broadcasts a raw transaction once (e.g. `EvmAdapter`)."""

    def send_raw_transaction(self, raw: bytes) -> str:
        """Broadcast once and return the hash."""
        ...


def broadcast_payout(adapter: RawTransactionSender, raw_transaction: bytes) -> BroadcastResult:
    """Broadcast a signed payout once and say what the answer means; never re-sends.

    Write the signed transaction and its hash down before calling this. `LOOK_UP` and
    `AMBIGUOUS` are never failures: the payout is decided by looking its hashes up.
    """
    tx_hash = "0x" + keccak(raw_transaction).hex()
    try:
        answered = adapter.send_raw_transaction(raw_transaction)
    except BroadcastRejected as exc:
        outcome = BroadcastOutcome.LOOK_UP if exc.lookup_by_hash else BroadcastOutcome.REJECTED
        return BroadcastResult(outcome, exc.tx_hash, exc.rpc_message)
    except BroadcastAmbiguous as exc:
        return BroadcastResult(BroadcastOutcome.AMBIGUOUS, exc.tx_hash, str(exc))
    except RpcUnavailable as exc:
        return BroadcastResult(BroadcastOutcome.NOT_SENT, tx_hash, str(exc))
    return BroadcastResult(BroadcastOutcome.ACCEPTED, answered)
