"""Fee math: worked examples and properties that must hold for every schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from fractions import Fraction
from math import floor
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies import NotQuotableError
from policies.fees import EXACT, NetworkCost, Quote, compute_quote
from policies.model import FeeSchedule

NOW = datetime(2025, 6, 1, tzinfo=UTC)
USD = 10**6  # a 6-decimal stablecoin at price 1: one USD is 10**6 base units


def schedule(**fields: Any) -> FeeSchedule:
    return FeeSchedule.model_validate({"currency": "USD", **fields})


def quote(
    fee_schedule: FeeSchedule,
    gross: int,
    *,
    decimals: int | None = 6,
    price: Decimal | None = Decimal(1),
    cost: NetworkCost | None = None,
) -> Quote:
    return compute_quote(
        schedule=fee_schedule,
        schedule_name="test/direct",
        gross_amount=gross,
        decimals=decimals,
        price=price,
        now=NOW,
        validity_seconds=900,
        network_cost=cost,
    )


FIRM_E = schedule(
    flat="100",
    brackets=[
        {"up_to": "1000", "percent": "10"},
        {"up_to": "20000", "percent": "5"},
        {"percent": "2"},
    ],
)


@pytest.mark.parametrize(
    ("fee_schedule", "value_usd", "fee_usd", "names"),
    [
        # 100 flat + 10% of 1000 + 5% of 19000 + 2% of 10000
        (FIRM_E, 30000, Decimal("1350"), ["flat", "bracket_1", "bracket_2", "bracket_3"]),
        (FIRM_E, 500, Decimal("150"), ["flat", "bracket_1"]),
        (FIRM_E, 1000, Decimal("200"), ["flat", "bracket_1"]),
        (
            schedule(brackets=[{"percent": "1"}], min_fee="20"),
            100,
            Decimal("20"),
            ["bracket_1", "minimum_fee"],
        ),
        (
            schedule(brackets=[{"percent": "10"}], max_fee="500"),
            100000,
            Decimal("500"),
            ["bracket_1", "maximum_fee"],
        ),
        (
            schedule(free_up_to="100", min_fee="50", brackets=[{"percent": "5"}]),
            100,
            Decimal("0"),
            ["free_band"],
        ),
        # above the band the minimum is capped so the user keeps the first 100
        (
            schedule(free_up_to="100", min_fee="50", brackets=[{"percent": "5"}]),
            120,
            Decimal("20"),
            ["bracket_1", "minimum_fee", "free_band"],
        ),
        (
            schedule(
                free_up_to="100",
                brackets=[{"up_to": "100", "percent": "0"}, {"percent": "5"}],
            ),
            300,
            Decimal("10"),
            ["bracket_2"],
        ),
    ],
)
def test_worked_examples(
    fee_schedule: FeeSchedule, value_usd: int, fee_usd: Decimal, names: list[str]
) -> None:
    result = quote(fee_schedule, value_usd * USD)
    assert result.fee_amount == int(fee_usd * USD)
    assert result.net_amount == value_usd * USD - result.fee_amount
    assert result.gross_value == Decimal(value_usd)
    assert [c.name for c in result.components] == names
    assert sum(c.amount for c in result.components) == result.fee_amount


def test_bracket_details_name_the_portion() -> None:
    result = quote(FIRM_E, 30000 * USD)
    second = next(c for c in result.components if c.name == "bracket_2")
    assert second.value == Decimal("950")
    assert "19,000.00 USD" in second.detail
    assert "5%" in second.detail


def test_fee_rounds_down_to_the_users_favour() -> None:
    # 5% of 1 USD at 3 USD per whole 0-decimal token: exact fee 1/60 token -> 0 units.
    result = quote(schedule(brackets=[{"percent": "5"}]), 1, decimals=0, price=Decimal(3))
    assert result.fee_amount == 0
    assert result.net_amount == 1
    # 10 tokens = 30 USD, 5% = 1.5 USD = 0.5 token -> 0; 100 tokens: 15 USD = 5 tokens.
    assert (
        quote(schedule(brackets=[{"percent": "5"}]), 10, decimals=0, price=Decimal(3)).fee_amount
        == 0
    )
    assert (
        quote(schedule(brackets=[{"percent": "5"}]), 100, decimals=0, price=Decimal(3)).fee_amount
        == 5
    )


def test_fee_is_capped_at_the_gross_amount() -> None:
    result = quote(schedule(flat="100"), 40 * USD)
    assert result.fee_amount == 40 * USD
    assert result.net_amount == 0
    assert result.components[-1].name == "gross_cap"
    assert result.components[-1].value == Decimal(-60)


def test_unpriced_token_pays_the_unpriced_percentage_only() -> None:
    fee_schedule = schedule(flat="100", min_fee="50", unpriced={"percent": "15"})
    result = quote(fee_schedule, 1001, price=None)
    assert result.fee_amount == 150  # 15% of 1001 = 150.15, rounded down
    assert result.gross_value is None
    assert not result.priced
    assert [c.name for c in result.components] == ["unpriced_percentage"]


def test_unknown_decimals_count_as_unpriced() -> None:
    result = quote(schedule(unpriced={"percent": "10"}), 1000, decimals=None)
    assert result.fee_amount == 100


def test_unpriced_without_a_rule_is_not_quotable() -> None:
    with pytest.raises(NotQuotableError, match="no price"):
        quote(schedule(flat="1"), 1000, price=None)


def test_network_cost_of_the_native_asset_is_deducted_as_is() -> None:
    cost = NetworkCost(amount=21000, native_decimals=18, native_price=None, recovering_native=True)
    result = quote(schedule(), 10**18, decimals=18, price=Decimal(3000), cost=cost)
    assert result.fee_amount == 21000
    assert [c.name for c in result.components] == ["network_cost"]


def test_network_cost_is_converted_for_a_token() -> None:
    # 0.001 ETH at 3000 USD = 3 USD = 3 USDT
    cost = NetworkCost(
        amount=10**15, native_decimals=18, native_price=Decimal(3000), recovering_native=False
    )
    result = quote(schedule(), 100 * USD, cost=cost)
    assert result.fee_amount == 3 * USD
    assert result.components[0].value == Decimal(3)


def test_network_cost_without_native_price_is_noted_not_charged() -> None:
    cost = NetworkCost(
        amount=10**15, native_decimals=18, native_price=None, recovering_native=False
    )
    result = quote(schedule(), 100 * USD, cost=cost)
    assert result.fee_amount == 0
    assert any("network cost is not deducted" in note for note in result.notes)


def test_quote_is_valid_for_the_given_seconds_and_serializes() -> None:
    result = quote(FIRM_E, 500 * USD)
    assert result.valid_until == NOW + timedelta(seconds=900)
    data = result.to_dict()
    assert data["fee_amount"] == str(150 * USD)
    assert data["components"][0] == {
        "name": "flat",
        "value": "100",
        "amount": str(100 * USD),
        "detail": "flat part 100.00 USD",
    }


def test_negative_gross_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        quote(FIRM_E, -1)


# ---- properties ----------------------------------------------------------------------

money = st.decimals(min_value=0, max_value=100000, places=2, allow_nan=False, allow_infinity=False)
percents = st.decimals(min_value=0, max_value=Decimal("99.99"), places=2)


@st.composite
def schedules(draw: st.DrawFn) -> FeeSchedule:
    bounds = sorted(draw(st.sets(money.filter(lambda m: m > 0), max_size=3)))
    brackets: list[dict[str, Any]] = [
        {"up_to": str(b), "percent": str(draw(percents))} for b in bounds
    ]
    brackets.append({"percent": str(draw(percents))})
    min_fee = draw(money)
    max_fee = draw(st.none() | money.map(lambda m: m + min_fee))
    return schedule(
        flat=str(draw(money)),
        free_up_to=str(draw(money)),
        brackets=brackets,
        min_fee=str(min_fee),
        max_fee=None if max_fee is None else str(max_fee),
        unpriced={"percent": str(draw(percents.filter(lambda p: p > 0)))},
    )


prices_ = st.none() | st.decimals(
    min_value=Decimal("0.000001"), max_value=Decimal(100000), places=6
)
decimals_ = st.integers(min_value=0, max_value=24)
grosses = st.integers(min_value=0, max_value=10**30)
costs = st.none() | st.builds(
    NetworkCost,
    amount=st.integers(min_value=0, max_value=10**18),
    native_decimals=st.just(18),
    native_price=st.none() | st.just(Decimal(3000)),
    recovering_native=st.booleans(),
)


def service_value(result: Quote) -> Decimal:
    with localcontext(EXACT):
        return sum(
            (
                c.value
                for c in result.components
                if c.name not in {"network_cost", "gross_cap"} and c.value is not None
            ),
            Decimal(0),
        )


@settings(max_examples=300, deadline=None)
@given(schedules(), grosses, decimals_, prices_, costs)
def test_fee_adds_up_and_never_goes_against_the_user(
    fee_schedule: FeeSchedule,
    gross: int,
    decimals: int,
    price: Decimal | None,
    cost: NetworkCost | None,
) -> None:
    result = quote(fee_schedule, gross, decimals=decimals, price=price, cost=cost)
    assert result.fee_amount >= 0
    assert result.net_amount >= 0
    assert result.fee_amount + result.net_amount == gross
    assert result.net_amount <= gross
    assert sum(c.amount for c in result.components) == result.fee_amount
    # rounding: the fee is the exact fee rounded down, never a unit more
    exact = Fraction(0)
    for component in result.components:
        if component.name == "gross_cap":
            continue
        if component.name == "network_cost" and cost is not None and cost.recovering_native:
            exact += cost.amount
        elif component.value is not None and price is not None:
            exact += Fraction(component.value) * 10**decimals / Fraction(price)
        else:
            exact += Fraction(gross) * Fraction(fee_schedule.unpriced.percent) / 100  # type: ignore[union-attr]
    assert result.fee_amount <= min(exact, gross)
    assert result.fee_amount == min(floor(exact), gross)


@settings(max_examples=300, deadline=None)
@given(schedules(), grosses, grosses, decimals_, prices_, costs)
def test_net_never_drops_when_more_arrives(
    fee_schedule: FeeSchedule,
    a: int,
    b: int,
    decimals: int,
    price: Decimal | None,
    cost: NetworkCost | None,
) -> None:
    low, high = sorted((a, b))
    net_low = quote(fee_schedule, low, decimals=decimals, price=price, cost=cost).net_amount
    net_high = quote(fee_schedule, high, decimals=decimals, price=price, cost=cost).net_amount
    assert net_high >= net_low


@settings(max_examples=300, deadline=None)
@given(
    schedules(),
    grosses,
    decimals_,
    st.decimals(min_value=Decimal("0.01"), max_value=1000, places=2),
)
def test_minimum_and_maximum_fee_hold_where_the_value_allows(
    fee_schedule: FeeSchedule, gross: int, decimals: int, price: Decimal
) -> None:
    result = quote(fee_schedule, gross, decimals=decimals, price=price)
    value = result.gross_value
    assert value is not None
    service = service_value(result)
    if fee_schedule.max_fee is not None:
        assert service <= fee_schedule.max_fee
    if value <= fee_schedule.free_up_to:
        assert service == 0
    elif value - fee_schedule.free_up_to >= fee_schedule.min_fee:
        assert service >= fee_schedule.min_fee
    if fee_schedule.free_up_to:
        with localcontext(EXACT):
            assert service <= max(value - fee_schedule.free_up_to, Decimal(0))
