"""One check per condition id that policy data may name; `CONDITIONS` is the registry.

A check never raises on missing facts: what is not known yet is `pending`, so a preview
can show what is still needed. Only a fact that rules the case out gives `fail`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Context, Decimal, localcontext
from typing import Literal

from policies.facts import Facts
from policies.model import ConditionRef, Network
from policies.reasons import ReasonCode

Status = Literal["pass", "fail", "pending"]


@dataclass(frozen=True)
class ConditionResult:
    """The outcome of one condition for one case, with a detail a person can read."""

    id: str
    status: Status
    detail: str
    reason_code: str | None = None


@dataclass(frozen=True, kw_only=True)
class ConditionContext:
    """Everything a condition may look at; `value` is None when the token has no price."""

    facts: Facts
    network: Network
    opened_for: Network | None
    value: Decimal | None
    currency: str
    asset: str


ConditionCheck = Callable[[ConditionRef, ConditionContext, str], ConditionResult]


def money(value: Decimal) -> str:
    """A quote-currency value for people: two decimals, rounded down, thousands separated."""
    # A fresh context: huge token amounts exceed the default 28 digits, and a caller's
    # context may trap the rounding that this display function does on purpose.
    with localcontext(Context(prec=1000)):
        return f"{value.quantize(Decimal('0.01'), rounding=ROUND_DOWN):,}"


def deposit_address_is_eoa(ref: ConditionRef, ctx: ConditionContext, where: str) -> ConditionResult:
    """Pass when the deposit address holds no code on the network the transfer went over."""
    is_contract = ctx.facts.deposit_address_is_contract
    if is_contract is None:
        return ConditionResult(
            ref.id, "pending", f"not yet known whether the deposit address holds code {where}"
        )
    if is_contract:
        delegate = ctx.facts.deposit_address_delegate
        detail = (
            f"the deposit address carries an EIP-7702 delegation to {delegate} on "
            f"{ctx.network.id}, and {ctx.network.id} requires a deposit address without code"
            if delegate
            else f"the deposit address is a contract on {ctx.network.id}; its key cannot move funds"
        )
        return ConditionResult(ref.id, "fail", detail, ReasonCode.DEPOSIT_ADDRESS_IS_CONTRACT)
    return ConditionResult(
        ref.id, "pass", f"the deposit address is an externally owned account on {ctx.network.id}"
    )


def deposit_address_has_code(ctx: ConditionContext) -> ConditionResult | None:
    """Pending for a reviewer when the deposit address holds code; None when it holds none.

    Not a condition policy data names: the engine adds it to every case, because code at
    the deposit address (a contract, or an EIP-7702 delegation that runs on every call to
    it) may move or keep what arrives, and only a person can judge that before a payout.
    """
    if not ctx.facts.deposit_address_is_contract:
        return None
    delegate = ctx.facts.deposit_address_delegate
    held = f"carries an EIP-7702 delegation to {delegate}" if delegate else "holds contract code"
    return ConditionResult(
        "deposit_address_has_code",
        "pending",
        f"the deposit address {held} on {ctx.network.id}; it is never paid without a "
        "reviewer who has looked at that code and approves with acknowledge: "
        "[deposit_address_has_code]",
    )


def refund_address_has_code(ctx: ConditionContext) -> ConditionResult | None:
    """Pending for a reviewer when the refund address holds code; None when it holds none.

    Like code at the deposit address, the engine adds it to every case: a contract may
    refuse, keep or forward what it is sent, and only a person can judge that it is the
    user's (a multisig, a smart wallet) before the refund goes there.
    """
    if not ctx.facts.refund_address_is_contract:
        return None
    return ConditionResult(
        "refund_address_is_contract",
        "pending",
        f"the refund address {ctx.facts.refund_address} holds code on {ctx.network.id} (a "
        "contract or a smart wallet); a reviewer checks that it can receive and belongs to "
        "the user, and approves with acknowledge: [refund_address_is_contract]",
    )


def min_value(ref: ConditionRef, ctx: ConditionContext, where: str) -> ConditionResult:
    """Pass when the transfer is worth at least the condition's `value`."""
    minimum = ref.value if ref.value is not None else Decimal(0)
    if ctx.value is None:
        return ConditionResult(
            ref.id,
            "pending",
            f"{ctx.asset} has no price; a reviewer must confirm the value reaches "
            f"{money(minimum)} {ctx.currency} {where}",
        )
    if ctx.value < minimum:
        return ConditionResult(
            ref.id,
            "fail",
            f"value {money(ctx.value)} {ctx.currency} is below the minimum "
            f"{money(minimum)} {ctx.currency} {where}",
            ReasonCode.BELOW_MINIMUM_VALUE,
        )
    return ConditionResult(
        ref.id,
        "pass",
        f"value {money(ctx.value)} {ctx.currency} reaches the minimum "
        f"{money(minimum)} {ctx.currency} {where}",
    )


def ownership_proof(ref: ConditionRef, ctx: ConditionContext, where: str) -> ConditionResult:
    """Pass once the sender signed a proof; fail only when the case is at approval without it."""
    if ctx.facts.ownership_proven:
        return ConditionResult(ref.id, "pass", "the sending address proved ownership by signature")
    sender = ctx.facts.sender or "the sending address"
    if ctx.facts.at_approval:
        return ConditionResult(
            ref.id,
            "fail",
            f"{sender} has not signed a proof of ownership, required {where}",
            ReasonCode.OWNERSHIP_NOT_PROVEN,
        )
    return ConditionResult(
        ref.id, "pending", f"waiting for a signed proof of ownership from {sender} ({where})"
    )


def manual_key_ceremony(ref: ConditionRef, ctx: ConditionContext, where: str) -> ConditionResult:
    """Always pending: an operator must derive the deposit key by hand before payout."""
    return ConditionResult(
        ref.id,
        "pending",
        f"an operator must derive the deposit address's key in a manual key ceremony "
        f"before the payout {where}; the service cannot do this alone",
    )


def token_transferable(ref: ConditionRef, ctx: ConditionContext, where: str) -> ConditionResult:
    """Pass when a transfer of the token out of the deposit address is known to succeed."""
    if ctx.facts.token is None:
        return ConditionResult(
            ref.id, "pass", f"{ctx.asset} is the native asset of {ctx.network.id}"
        )
    transferable = ctx.facts.token_transferable
    if transferable is None:
        return ConditionResult(
            ref.id, "pending", f"not yet known whether {ctx.asset} can be transferred out {where}"
        )
    if not transferable:
        return ConditionResult(
            ref.id,
            "fail",
            f"{ctx.asset} cannot be transferred out of the deposit address on {ctx.network.id}",
            ReasonCode.TOKEN_NOT_TRANSFERABLE,
        )
    return ConditionResult(ref.id, "pass", f"{ctx.asset} can be transferred on {ctx.network.id}")


def max_age_days(ref: ConditionRef, ctx: ConditionContext, where: str) -> ConditionResult:
    """Pass when the transfer is at most `days` old at `now`."""
    limit = ref.days if ref.days is not None else 0
    moment = ctx.facts.transfer_time
    if moment is None:
        return ConditionResult(
            ref.id, "pending", f"transfer time not yet known; the limit is {limit} days {where}"
        )
    age = ctx.facts.now - moment
    age_days = age.days
    if age.total_seconds() > limit * 86400:
        return ConditionResult(
            ref.id,
            "fail",
            f"the transfer is {age_days} days old, older than the {limit} days allowed {where}",
            ReasonCode.TRANSFER_TOO_OLD,
        )
    return ConditionResult(
        ref.id, "pass", f"the transfer is {age_days} days old, within {limit} days {where}"
    )


def same_key_derivation(ref: ConditionRef, ctx: ConditionContext, where: str) -> ConditionResult:
    """Pass when both sides of a wrong-network pair derive the deposit address the same way."""
    other = ctx.opened_for
    if other is None or other.id == ctx.network.id:
        return ConditionResult(ref.id, "pass", f"a single network ({ctx.network.id}); no pair")
    if (other.family, other.key_derivation) != (ctx.network.family, ctx.network.key_derivation):
        return ConditionResult(
            ref.id,
            "fail",
            f"{ctx.network.id} ({ctx.network.family}, {ctx.network.key_derivation}) and "
            f"{other.id} ({other.family}, {other.key_derivation}) do not share a deposit key",
            ReasonCode.PAIR_UNSUPPORTED,
        )
    return ConditionResult(
        ref.id,
        "pass",
        f"{ctx.network.id} and {other.id} share the key derivation {other.key_derivation}",
    )


CONDITIONS: dict[str, ConditionCheck] = {
    "deposit_address_is_eoa": deposit_address_is_eoa,
    "min_value": min_value,
    "ownership_proof": ownership_proof,
    "manual_key_ceremony": manual_key_ceremony,
    "token_transferable": token_transferable,
    "max_age_days": max_age_days,
    "same_key_derivation": same_key_derivation,
}

# The parameters each condition takes; all of them are required.
PARAMETERS: dict[str, frozenset[str]] = {
    "min_value": frozenset({"value"}),
    "max_age_days": frozenset({"days"}),
}


def parameter_problem(ref: ConditionRef) -> str | None:
    """Why a condition reference is malformed (unknown id, missing or extra parameter)."""
    if ref.id not in CONDITIONS:
        return f"unknown condition id {ref.id!r}; known: {', '.join(sorted(CONDITIONS))}"
    wanted = PARAMETERS.get(ref.id, frozenset())
    given = {name for name in ("value", "days") if getattr(ref, name) is not None}
    if missing := wanted - given:
        return f"condition {ref.id!r} needs {', '.join(sorted(missing))}"
    if extra := given - wanted:
        return f"condition {ref.id!r} takes no {', '.join(sorted(extra))}"
    return None
