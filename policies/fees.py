"""Fee schedule math: from a gross amount in base units to fee and net payout.

Rules (see FeeSchedule):

* Priced token. The service fee is computed in the quote currency on the gross value:
  `flat` plus the progressive `brackets` (each percent applies only to the part of the
  value inside its bracket, like tax brackets), raised to `min_fee`, lowered to `max_fee`.
  The free band: a value at or below `free_up_to` pays no service fee at all (flat, brackets
  and minimum are waived), and above it the service fee never exceeds `value - free_up_to`,
  so the user keeps at least the free band and the payout never drops when the value grows.
* Unpriced token (no price, or decimals unknown). Only `unpriced.percent` of the amount in
  token units is charged: flat, minimum, maximum and the free band are sums of money that
  cannot be turned into token units without a price, so they do not apply. A schedule
  without an `unpriced` rule cannot quote such a token (NotQuotableError).
* Network cost. The payout's estimated network cost is given in base units of the native
  asset. It is deducted as is when the recovered asset is the native one; otherwise it is
  converted through both prices, and it is not deducted (a note says so) when either price
  is missing, because the service then cannot know what it is worth in the token.
* Rounding. Every component is kept exact (Decimal for money, Fraction for token units);
  component amounts are cumulative floors, so they add up to the fee, and the fee is the
  exact fee rounded down to a base unit: never a unit more than the schedule says.
  The fee is capped at the gross amount, and `net = gross - fee`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import (
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)
from fractions import Fraction
from math import floor

from policies.conditions import money
from policies.errors import NotQuotableError
from policies.model import FeeSchedule


@dataclass(frozen=True)
class QuoteComponent:
    """One part of a fee: its value in the quote currency (None if unpriced) and base units."""

    name: str
    value: Decimal | None
    amount: int
    detail: str


@dataclass(frozen=True)
class NetworkCost:
    """The payout's estimated network cost, in base units of the network's native asset."""

    amount: int
    native_decimals: int
    native_price: Decimal | None
    recovering_native: bool


@dataclass(frozen=True)
class Quote:
    """A fee quote: every component, fee and net payout in base units, valid until a time."""

    schedule: str
    currency: str
    gross_amount: int
    gross_value: Decimal | None
    fee_amount: int
    net_amount: int
    components: tuple[QuoteComponent, ...]
    valid_until: datetime
    notes: tuple[str, ...] = ()

    @property
    def priced(self) -> bool:
        """True when the quote is based on a price (the fee has a value in the currency)."""
        return self.gross_value is not None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form: base-unit amounts and money as strings, the time as ISO 8601."""
        return {
            "schedule": self.schedule,
            "currency": self.currency,
            "gross_amount": str(self.gross_amount),
            "gross_value": None if self.gross_value is None else str(self.gross_value),
            "fee_amount": str(self.fee_amount),
            "net_amount": str(self.net_amount),
            "components": [
                {
                    "name": c.name,
                    "value": None if c.value is None else str(c.value),
                    "amount": str(c.amount),
                    "detail": c.detail,
                }
                for c in self.components
            ],
            "valid_until": self.valid_until.isoformat(),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class _Part:
    name: str
    value: Decimal | None
    units: Fraction  # exact, in token base units; negative for reductions
    detail: str


# Sums, differences and products of decimals are exact in a context this wide; the traps
# turn any rounding into an error, because a silently rounded fee would be a wrong fee.
EXACT = Context(prec=1000, traps=[Inexact, InvalidOperation, DivisionByZero, Overflow])


def value_of(amount: int, decimals: int, price: Decimal) -> Decimal:
    """The exact quote-currency value of `amount` base units at `price` per whole token."""
    with localcontext(EXACT):
        return (Decimal(amount) * price).scaleb(-decimals)


def _units(value: Decimal, decimals: int, price: Decimal) -> Fraction:
    return Fraction(value) * int(10**decimals) / Fraction(price)


def service_parts(schedule: FeeSchedule, value: Decimal) -> list[tuple[str, Decimal, str]]:
    """The service fee's components (name, exact value, detail) for a gross value."""
    with localcontext(EXACT):
        return _service_parts(schedule, value)


def _service_parts(schedule: FeeSchedule, value: Decimal) -> list[tuple[str, Decimal, str]]:
    cur = schedule.currency
    if value <= schedule.free_up_to:
        return [
            (
                "free_band",
                Decimal(0),
                f"value {money(value)} {cur} is within the free band up to "
                f"{money(schedule.free_up_to)} {cur}: no service fee",
            )
        ]
    parts: list[tuple[str, Decimal, str]] = []
    if schedule.flat:
        parts.append(("flat", schedule.flat, f"flat part {money(schedule.flat)} {cur}"))
    lower = Decimal(0)
    for index, bracket in enumerate(schedule.brackets, start=1):
        upper = bracket.up_to
        top = value if upper is None else min(value, upper)
        if top <= lower:
            break
        portion = top - lower
        if bracket.percent:
            share = portion * bracket.percent / 100
            span = f"{money(lower)}-{money(upper)}" if upper is not None else f"{money(lower)}+"
            parts.append(
                (
                    f"bracket_{index}",
                    share,
                    f"{bracket.percent}% of {money(portion)} {cur} in the {span} {cur} bracket",
                )
            )
        if upper is None:
            break
        lower = upper
    raw = sum((v for _, v, _ in parts), Decimal(0))
    service = raw
    if raw < schedule.min_fee:
        service = schedule.min_fee
        parts.append(
            (
                "minimum_fee",
                schedule.min_fee - raw,
                f"raised to the minimum fee {money(schedule.min_fee)} {cur}",
            )
        )
    elif schedule.max_fee is not None and raw > schedule.max_fee:
        service = schedule.max_fee
        parts.append(
            (
                "maximum_fee",
                schedule.max_fee - raw,
                f"lowered to the maximum fee {money(schedule.max_fee)} {cur}",
            )
        )
    room = value - schedule.free_up_to
    if schedule.free_up_to and service > room:
        parts.append(
            (
                "free_band",
                room - service,
                f"capped so the first {money(schedule.free_up_to)} {cur} stay with the user",
            )
        )
    return parts


def compute_quote(
    *,
    schedule: FeeSchedule,
    schedule_name: str,
    gross_amount: int,
    decimals: int | None,
    price: Decimal | None,
    now: datetime,
    validity_seconds: int,
    network_cost: NetworkCost | None = None,
) -> Quote:
    """Quote the fee on `gross_amount` base units; raises NotQuotableError when it cannot."""
    if gross_amount < 0:
        raise ValueError(f"gross_amount is negative: {gross_amount}")
    parts: list[_Part] = []
    notes: list[str] = []
    gross_value: Decimal | None = None
    if price is not None and decimals is not None:
        gross_value = value_of(gross_amount, decimals, price)
        for name, value, detail in service_parts(schedule, gross_value):
            parts.append(_Part(name, value, _units(value, decimals, price), detail))
    else:
        if schedule.unpriced is None:
            raise NotQuotableError(
                f"the token has no price and schedule {schedule_name} has no rule for unpriced "
                "tokens; a reviewer must price it"
            )
        percent = schedule.unpriced.percent
        parts.append(
            _Part(
                "unpriced_percentage",
                None,
                Fraction(gross_amount) * Fraction(percent) / 100,
                f"{percent}% of the amount: the token has no price",
            )
        )

    if network_cost is not None and network_cost.amount > 0:
        cost_value = (
            value_of(network_cost.amount, network_cost.native_decimals, network_cost.native_price)
            if network_cost.native_price is not None
            else None
        )
        detail = f"estimated payout network cost: {network_cost.amount} native base units"
        if network_cost.recovering_native:
            parts.append(_Part("network_cost", cost_value, Fraction(network_cost.amount), detail))
        elif cost_value is not None and price is not None and decimals is not None:
            parts.append(
                _Part("network_cost", cost_value, _units(cost_value, decimals, price), detail)
            )
        else:
            notes.append(
                "the payout network cost is not deducted: without prices for both the token "
                "and the native asset it cannot be expressed in the token"
            )

    total = sum((p.units for p in parts), Fraction(0))
    if total > gross_amount:
        parts.append(
            _Part(
                "gross_cap",
                _cap_value(gross_value, parts),
                Fraction(gross_amount) - total,
                "the fee is capped at the amount that arrived",
            )
        )

    # Cumulative floors: each component gets the base units its running total adds, so the
    # components add up to the fee and the fee is the exact total rounded down.
    components: list[QuoteComponent] = []
    running = Fraction(0)
    floored = 0
    for part in parts:
        running += part.units
        now_floored = floor(running)
        components.append(QuoteComponent(part.name, part.value, now_floored - floored, part.detail))
        floored = now_floored
    fee = max(0, min(floored, gross_amount))
    return Quote(
        schedule=schedule_name,
        currency=schedule.currency,
        gross_amount=gross_amount,
        gross_value=gross_value,
        fee_amount=fee,
        net_amount=gross_amount - fee,
        components=tuple(components),
        valid_until=now + timedelta(seconds=validity_seconds),
        notes=tuple(notes),
    )


def _cap_value(gross_value: Decimal | None, parts: list[_Part]) -> Decimal | None:
    values = [p.value for p in parts]
    if gross_value is None or any(v is None for v in values):
        return None
    with localcontext(EXACT):
        return gross_value - sum((v for v in values if v is not None), Decimal(0))
