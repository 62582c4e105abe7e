"""The policy engine: facts and policy in, verdict out. Pure: no I/O and no clock.

Rules, in the order they are applied (the first refusal ends the evaluation):

1. The network the transfer went over must be in the catalogue, else `network_unsupported`.
2. wrong_network: the deposit's own network (`opened_for`) must be in the catalogue too
   (`network_unsupported`), and differ from the transfer's network (`same_network`: such a
   deposit is a normal deposit or an unlisted_token case).
3. The class is the stricter of the two sides' classes for the case type (a pair is only as
   recoverable as its harder side) and the conditions of both sides apply, merged by id
   (the higher minimum value, the shorter age limit). `unsupported` on either side refuses
   at once with `network_unsupported` and that network's reason.
4. wrong_network: both sides must share family and key derivation, else `pair_unsupported`.
5. unlisted_token: a token that is listed on the network (or the native asset) is credited
   by the normal deposit flow: `already_credited`.
6. Every condition of the class is evaluated and reported. A value at or above
   `ownership_proof_min_value`, or a token without a price, adds `ownership_proof`.
   A deposit address that holds code (a contract, an EIP-7702 delegation) adds the pending
   `deposit_address_has_code` on every network that does not refuse it outright through
   `deposit_address_is_eoa`: the class becomes at least conditional and the verdict's
   `review_flags` name it, so that no reviewer approves it without having seen it.
7. A value below the fee schedule's `min_value` gives `below_minimum_value`; a fee that
   leaves nothing to pay out gives `fee_exceeds_value`.

Eligible means no refusal and no failed condition; pending conditions do not block it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Context, Decimal, localcontext

from policies.conditions import (
    CONDITIONS,
    ConditionContext,
    ConditionResult,
    deposit_address_has_code,
    money,
    refund_address_has_code,
)
from policies.errors import NotQuotableError
from policies.facts import Facts
from policies.fees import NetworkCost, Quote, compute_quote, value_of
from policies.model import (
    CLASS_STRICTNESS,
    CaseType,
    ConditionRef,
    Network,
    Policy,
    RecoveryClass,
)
from policies.prices import PriceSource
from policies.reasons import ReasonCode


@dataclass(frozen=True)
class Verdict:
    """The engine's answer for a case, with the policy version and hash that decided it."""

    policy_version: str
    policy_hash: str
    case_type: str
    network: str
    network_class: RecoveryClass
    eligible: bool
    conditions: tuple[ConditionResult, ...]
    reason_codes: tuple[str, ...]
    quote: Quote | None
    summary: str
    value: Decimal | None = None
    needs_second_approval: bool = False
    # Conditions a reviewer must say they have looked at when approving the case.
    review_flags: tuple[str, ...] = ()

    @property
    def pending(self) -> tuple[str, ...]:
        """Ids of conditions still waiting for a fact or a person."""
        return tuple(c.id for c in self.conditions if c.status == "pending")


@dataclass(frozen=True)
class _Required:
    ref: ConditionRef
    where: str


def format_amount(amount: int, decimals: int | None) -> str:
    """Base units as a decimal string with the asset's decimals (or raw units if unknown)."""
    if decimals is None:
        return f"{amount} base units"
    # Wide enough for 2^256 (78 digits) at any decimals: the default 28 digits would round.
    with localcontext(Context(prec=200)):
        text = f"{Decimal(amount).scaleb(-decimals):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def evaluate(facts: Facts, policy: Policy, prices: PriceSource) -> Verdict:
    """Judge a case against the policy; the verdict lists every check and the fee quote."""
    case_type = CaseType(facts.case_type)

    def refuse(klass: RecoveryClass, code: ReasonCode, summary: str) -> Verdict:
        return Verdict(
            policy_version=policy.version,
            policy_hash=policy.content_hash,
            case_type=case_type,
            network=facts.network,
            network_class=klass,
            eligible=False,
            conditions=(),
            reason_codes=(code,),
            quote=None,
            summary=f"Refused: {summary}.",
        )

    network = policy.networks.get(facts.network)
    if network is None:
        return refuse(
            RecoveryClass.UNSUPPORTED,
            ReasonCode.NETWORK_UNSUPPORTED,
            f"network {facts.network!r} is not in the policy catalogue",
        )
    sides = [network]
    opened_for: Network | None = None
    if case_type is CaseType.WRONG_NETWORK:
        assert facts.opened_for is not None  # Facts refuses a wrong_network case without it
        opened_for = policy.networks.get(facts.opened_for)
        if opened_for is None:
            return refuse(
                RecoveryClass.UNSUPPORTED,
                ReasonCode.NETWORK_UNSUPPORTED,
                f"the deposit address's network {facts.opened_for!r} is not in the policy "
                "catalogue",
            )
        if opened_for.id == network.id:
            return refuse(
                network.wrong_network.recovery_class,
                ReasonCode.SAME_NETWORK,
                f"the transfer went over {network.id}, the network the deposit address was "
                "opened for, so it is not a wrong-network case (an unlisted token there is an "
                "unlisted_token case)",
            )
        sides.append(opened_for)

    strictest = max(sides, key=lambda n: CLASS_STRICTNESS[n.case_policy(case_type).recovery_class])
    klass = strictest.case_policy(case_type).recovery_class
    if klass is RecoveryClass.UNSUPPORTED:
        return refuse(
            klass,
            ReasonCode.NETWORK_UNSUPPORTED,
            f"{strictest.name} ({strictest.id}) is unsupported for {case_type} cases: "
            f"{strictest.case_policy(case_type).reason}",
        )
    if opened_for is not None and (opened_for.family, opened_for.key_derivation) != (
        network.family,
        network.key_derivation,
    ):
        return refuse(
            klass,
            ReasonCode.PAIR_UNSUPPORTED,
            f"a transfer on {network.id} ({network.family}, {network.key_derivation}) cannot be "
            f"moved with a deposit key of {opened_for.id} "
            f"({opened_for.family}, {opened_for.key_derivation})",
        )

    listed = network.listed(facts.token)
    if case_type is CaseType.UNLISTED_TOKEN and listed is not None:
        return refuse(
            klass,
            ReasonCode.ALREADY_CREDITED,
            f"{listed.symbol} is listed on {network.id}, so the deposit is credited by the "
            "normal deposit flow, not by recovery",
        )

    decimals = listed.decimals if listed is not None else facts.token_decimals
    symbol = listed.symbol if listed is not None else f"token {facts.token}"
    price = prices.price(network.id, facts.token) if decimals is not None else None
    value = (
        value_of(facts.amount, decimals, price)
        if price is not None and decimals is not None
        else None
    )
    currency = policy.quote_currency

    required = _merged_conditions(sides, case_type)
    threshold = policy.thresholds.ownership_proof_min_value
    if "ownership_proof" not in required and (value is None or value >= threshold):
        where = (
            "for tokens without a price"
            if value is None
            else f"for values of {money(threshold)} {currency} and more"
        )
        required["ownership_proof"] = _Required(ConditionRef(id="ownership_proof"), where)

    context = ConditionContext(
        facts=facts,
        network=network,
        opened_for=opened_for,
        value=value,
        currency=currency,
        asset=symbol,
    )
    results = tuple(CONDITIONS[r.ref.id](r.ref, context, r.where) for r in required.values())
    review_flags: tuple[str, ...] = ()
    # Code at the deposit address is never paid without a reviewer, on any class; where
    # the network requires an account without code, that condition has refused it already.
    has_code = None if "deposit_address_is_eoa" in required else deposit_address_has_code(context)
    refund_code = refund_address_has_code(context)
    if refund_code is not None:
        results = (*results, refund_code)
        review_flags = (refund_code.id,)
    if has_code is not None:
        results = (*results, has_code)
        review_flags = (has_code.id, *review_flags)
        if klass is RecoveryClass.DIRECT and RecoveryClass.CONDITIONAL in policy.fee_schedules.get(
            case_type, {}
        ):
            klass = RecoveryClass.CONDITIONAL

    refusals: list[tuple[str, str]] = []
    schedule = policy.fee_schedule(case_type, klass)
    if value is not None and value < schedule.min_value:
        refusals.append(
            (
                ReasonCode.BELOW_MINIMUM_VALUE,
                f"value {money(value)} {currency} is below the {money(schedule.min_value)} "
                f"{currency} minimum for {case_type} cases of class {klass}",
            )
        )
    quote: Quote | None = None
    not_quotable: str | None = None
    try:
        quote = compute_quote(
            schedule=schedule,
            schedule_name=f"{case_type}/{klass}",
            gross_amount=facts.amount,
            decimals=decimals,
            price=price,
            now=facts.now,
            validity_seconds=policy.quote_validity_seconds,
            network_cost=_network_cost(facts, network, prices),
        )
    except NotQuotableError as error:
        not_quotable = str(error)
    if quote is not None and quote.net_amount == 0:
        refusals.append(
            (
                ReasonCode.FEE_EXCEEDS_VALUE,
                f"the fee {format_amount(quote.fee_amount, decimals)} {symbol} would take all of "
                f"the {format_amount(facts.amount, decimals)} {symbol} that arrived",
            )
        )

    failed = [r for r in results if r.status == "fail"]
    codes: list[str] = []
    for code in [c for c, _ in refusals] + [r.reason_code or r.id for r in failed]:
        if code not in codes:
            codes.append(code)
    eligible = not codes
    where = f"{klass} on {network.id}"
    if eligible:
        if quote is not None:
            summary = (
                f"Eligible ({where}): {format_amount(quote.gross_amount, decimals)} {symbol} "
                f"arrived, fee {format_amount(quote.fee_amount, decimals)} {symbol}, payout "
                f"{format_amount(quote.net_amount, decimals)} {symbol}"
            )
        else:
            summary = f"Eligible ({where}), but no fee can be quoted: {not_quotable}"
        pending = [r.id for r in results if r.status == "pending"]
        if pending:
            summary += f"; still pending: {', '.join(pending)}"
    else:
        reasons = [detail for _, detail in refusals] + [r.detail for r in failed]
        summary = f"Not eligible ({where}): {'; '.join(reasons)}"
    return Verdict(
        policy_version=policy.version,
        policy_hash=policy.content_hash,
        case_type=case_type,
        network=network.id,
        network_class=klass,
        eligible=eligible,
        conditions=results,
        reason_codes=tuple(codes),
        quote=quote if eligible else None,
        summary=summary + ".",
        value=value,
        needs_second_approval=value is None or value >= policy.thresholds.second_approval_min_value,
        review_flags=review_flags,
    )


def _merged_conditions(sides: list[Network], case_type: CaseType) -> dict[str, _Required]:
    # Both sides' conditions apply; for a repeated id the stricter parameter wins.
    merged: dict[str, _Required] = {}
    for side in sides:
        for ref in side.case_policy(case_type).conditions:
            candidate = _Required(ref, f"on {side.id}")
            current = merged.get(ref.id)
            if current is None or _stricter(ref, current.ref):
                merged[ref.id] = candidate
    return merged


def _stricter(new: ConditionRef, old: ConditionRef) -> bool:
    if new.value is not None and old.value is not None:
        return new.value > old.value
    if new.days is not None and old.days is not None:
        return new.days < old.days
    return False


def _network_cost(facts: Facts, network: Network, prices: PriceSource) -> NetworkCost | None:
    if facts.payout_network_cost is None:
        return None
    return NetworkCost(
        amount=facts.payout_network_cost,
        native_decimals=network.native.decimals,
        native_price=prices.price(network.id, None),
        recovering_native=facts.token is None,
    )
