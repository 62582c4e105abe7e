"""The engine's rules, each refusal and the eligible path, with the quote it gives."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from policies import (
    Facts,
    InvalidFactsError,
    Policy,
    RecoveryClass,
    StaticPriceSource,
    Verdict,
    evaluate,
)

BSC_USDT = "0x55d398326f99059fF775485246999027B3197955"
ETH_USDT = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
UNLISTED = "0x" + "12" * 20
MakeFacts = Callable[..., Facts]


class FixedPrices:
    """A price source with one price for everything (or none)."""

    def __init__(self, price: Decimal | None) -> None:
        self._price = price

    def price(self, network: str, token: str | None) -> Decimal | None:
        return self._price


def judge(policy: Policy, facts: Facts, prices: Any = None) -> Verdict:
    return evaluate(facts, policy, prices or StaticPriceSource(policy))


REFUSALS = [
    # (facts overrides, reason code, class, words in the summary)
    ({"network": "atlantis"}, "network_unsupported", "unsupported", ["'atlantis'"]),
    ({"opened_for": "atlantis"}, "network_unsupported", "unsupported", ["'atlantis'"]),
    ({"network": "ethereum", "token": ETH_USDT}, "same_network", "direct", ["ethereum"]),
    (
        {"network": "fantom", "token": None},
        "network_unsupported",
        "unsupported",
        ["Fantom Opera", "superseded by Sonic"],
    ),
    (
        {"opened_for": "polygon_zkevm"},
        "network_unsupported",
        "unsupported",
        ["polygon_zkevm", "sunset"],
    ),
    (
        {"network": "bitcoin", "token": None},
        "network_unsupported",
        "unsupported",
        ["Bitcoin"],
    ),
    (
        {"network": "cosmoshub", "token": None},
        "pair_unsupported",
        "conditional",
        ["cosmoshub", "secp256k1-bip44-118", "ethereum"],
    ),
    (
        {"case_type": "unlisted_token", "opened_for": None, "token": BSC_USDT.lower()},
        "already_credited",
        "conditional",
        ["USDT is listed on bsc"],
    ),
    (
        {"case_type": "unlisted_token", "opened_for": None, "token": None},
        "already_credited",
        "conditional",
        ["BNB is listed on bsc"],
    ),
]


@pytest.mark.parametrize(("overrides", "code", "klass", "words"), REFUSALS)
def test_refusals(
    policy: Policy,
    make_facts: MakeFacts,
    overrides: dict[str, Any],
    code: str,
    klass: str,
    words: list[str],
) -> None:
    verdict = judge(policy, make_facts(**overrides))
    assert not verdict.eligible
    assert verdict.reason_codes == (code,)
    assert verdict.network_class == klass
    assert verdict.quote is None
    assert verdict.summary.startswith("Refused: ")
    for word in words:
        assert word in verdict.summary


def test_direct_pair_is_eligible_with_a_quote(policy: Policy, make_facts: MakeFacts) -> None:
    verdict = judge(policy, make_facts(amount=1000 * 10**18, payout_network_cost=10**15))
    assert verdict.eligible
    assert verdict.network_class is RecoveryClass.DIRECT
    assert verdict.reason_codes == ()
    assert verdict.conditions == ()
    assert verdict.value == Decimal(1000)
    quote = verdict.quote
    assert quote is not None
    # 5 flat + 5% of 1000 = 55 USD, plus 0.001 BNB at 600 = 0.6 USD
    assert quote.fee_amount == Decimal("55.6") * 10**18
    assert quote.net_amount == 1000 * 10**18 - quote.fee_amount
    assert quote.schedule == "wrong_network/direct"
    assert quote.valid_until == make_facts().now + timedelta(seconds=policy.quote_validity_seconds)
    assert "Eligible (direct on bsc)" in verdict.summary
    assert "payout 944.4 USDT" in verdict.summary
    assert verdict.policy_version == policy.version
    assert verdict.policy_hash == policy.content_hash
    assert not verdict.needs_second_approval


def test_the_stricter_side_decides_the_class(policy: Policy, make_facts: MakeFacts) -> None:
    # bsc is direct, zksync conditional: the deposit address was opened for zksync
    verdict = judge(policy, make_facts(opened_for="zksync"))
    assert verdict.network_class is RecoveryClass.CONDITIONAL
    assert [c.id for c in verdict.conditions] == ["deposit_address_is_eoa", "min_value"]
    assert verdict.quote is not None
    assert verdict.quote.schedule == "wrong_network/conditional"


def test_both_sides_conditions_merge_to_the_stricter_parameter(
    policy: Policy, make_facts: MakeFacts
) -> None:
    # harmony: min 200, 90 days; ethereum_classic: min 100, 180 days
    facts = make_facts(
        network="ethereum_classic",
        opened_for="harmony",
        token=None,
        amount=10 * 10**18,  # 10 ETC = 200 USD
        transfer_time=make_facts().now - timedelta(days=120),
    )
    verdict = judge(policy, facts)
    by_id = {c.id: c for c in verdict.conditions}
    assert by_id["min_value"].status == "pass"
    assert "200.00 USD on harmony" in by_id["min_value"].detail
    assert by_id["max_age_days"].status == "fail"
    assert "90 days" in by_id["max_age_days"].detail
    assert verdict.reason_codes == ("transfer_too_old",)
    assert not verdict.eligible


CONDITIONAL_OUTCOMES = [
    # (network, facts overrides, eligible, reason codes, pending condition ids)
    (
        "kaia",
        {"deposit_address_is_contract": True},
        False,
        ("deposit_address_is_contract",),
        ("ownership_proof",),
    ),
    (
        "kaia",
        {"deposit_address_is_contract": None},
        True,
        (),
        ("deposit_address_is_eoa", "ownership_proof"),
    ),
    ("kaia", {"ownership_proven": True}, True, (), ()),
    ("kaia", {"at_approval": True}, False, ("ownership_not_proven",), ()),
    # 40 USD: below aurora's 50 USD, and the 50 USD minimum fee would take it all
    (
        "aurora",
        {"amount": 40 * 10**18},
        False,
        ("below_minimum_value", "fee_exceeds_value"),
        (),
    ),
    ("telos", {}, True, (), ("manual_key_ceremony",)),
    ("zksync", {"deposit_address_is_contract": True}, False, ("deposit_address_is_contract",), ()),
]


@pytest.mark.parametrize(
    ("network", "overrides", "eligible", "codes", "pending"), CONDITIONAL_OUTCOMES
)
def test_conditional_networks(
    policy: Policy,
    make_facts: MakeFacts,
    network: str,
    overrides: dict[str, Any],
    eligible: bool,
    codes: tuple[str, ...],
    pending: tuple[str, ...],
) -> None:
    # a USDT amount priced through a fixed price of 1 USD per token
    values: dict[str, Any] = {"network": network, "token": UNLISTED, "amount": 1000 * 10**18}
    values.update(overrides)
    verdict = judge(policy, make_facts(**values), FixedPrices(Decimal(1)))
    assert verdict.eligible is eligible
    assert verdict.reason_codes == codes
    assert verdict.pending == pending
    assert (verdict.quote is not None) is eligible
    if not eligible:
        assert verdict.summary.startswith("Not eligible")


def test_every_condition_is_reported_even_after_a_failure(
    policy: Policy, make_facts: MakeFacts
) -> None:
    facts = make_facts(
        network="kaia", token=UNLISTED, deposit_address_is_contract=True, at_approval=True
    )
    verdict = judge(policy, facts, FixedPrices(Decimal(1)))
    assert [(c.id, c.status) for c in verdict.conditions] == [
        ("deposit_address_is_eoa", "fail"),
        ("ownership_proof", "fail"),
    ]
    assert verdict.reason_codes == ("deposit_address_is_contract", "ownership_not_proven")


@pytest.mark.parametrize(
    ("usdt", "codes"),
    [
        # the schedule minimum is 10 USD and so is the minimum fee
        (Decimal("9.99"), ("below_minimum_value", "fee_exceeds_value")),
        (Decimal(10), ("fee_exceeds_value",)),
        (Decimal("10.01"), ()),
    ],
)
def test_value_rules(
    policy: Policy, make_facts: MakeFacts, usdt: Decimal, codes: tuple[str, ...]
) -> None:
    verdict = judge(policy, make_facts(amount=int(usdt * 10**18)))
    assert verdict.reason_codes == codes
    assert verdict.eligible is (not codes)
    assert (verdict.quote is None) is bool(codes)


def test_large_value_requires_ownership_proof_and_second_approval(
    policy: Policy, make_facts: MakeFacts
) -> None:
    amount = int(policy.thresholds.second_approval_min_value) * 10**18
    verdict = judge(policy, make_facts(amount=amount))
    assert verdict.network_class is RecoveryClass.DIRECT
    assert verdict.pending == ("ownership_proof",)
    assert verdict.needs_second_approval
    assert verdict.eligible
    at_approval = judge(policy, make_facts(amount=amount, at_approval=True))
    assert at_approval.reason_codes == ("ownership_not_proven",)


def test_unpriced_unlisted_token_is_quoted_by_the_unpriced_rule(
    policy: Policy, make_facts: MakeFacts
) -> None:
    facts = make_facts(
        case_type="unlisted_token", network="ethereum", opened_for=None, token=UNLISTED
    )
    verdict = judge(policy, facts)
    assert verdict.eligible
    assert verdict.value is None
    assert verdict.needs_second_approval
    assert "ownership_proof" in verdict.pending
    assert verdict.quote is not None
    assert verdict.quote.fee_amount == 150 * 10**18  # 15% of 1000 tokens
    assert verdict.quote.components[0].name == "unpriced_percentage"


def test_unpriced_without_a_rule_is_eligible_but_not_quoted(
    policy_data: dict[str, Any], make_facts: MakeFacts
) -> None:
    del policy_data["fee_schedules"]["unlisted_token"]["conditional"]["unpriced"]
    policy = Policy.model_validate(policy_data)
    facts = make_facts(case_type="unlisted_token", opened_for=None, token=UNLISTED)
    verdict = judge(policy, facts)
    assert verdict.eligible
    assert verdict.quote is None
    assert "no fee can be quoted" in verdict.summary


def test_native_wrong_network_deducts_the_network_cost_in_kind(
    policy: Policy, make_facts: MakeFacts
) -> None:
    facts = make_facts(token=None, amount=10**18, payout_network_cost=21000 * 5 * 10**9)
    verdict = judge(policy, facts)
    assert verdict.quote is not None
    cost = next(c for c in verdict.quote.components if c.name == "network_cost")
    assert cost.amount == 21000 * 5 * 10**9


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"opened_for": None}, "needs opened_for"),
        ({"case_type": "lost_keys"}, "unknown case_type"),
        ({"amount": -1}, "non-negative"),
        ({"amount": 1.5}, "non-negative integer"),
        ({"now": datetime(2025, 1, 1)}, "timezone-aware"),
        ({"payout_network_cost": -1}, "negative"),
    ],
)
def test_inconsistent_facts_are_refused(
    make_facts: MakeFacts, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidFactsError, match=message):
        make_facts(**overrides)


def test_amounts_of_78_digits_are_formatted_exactly() -> None:
    from policies.engine import format_amount

    largest = 2**256 - 1
    text = format_amount(largest, 18)
    assert text.replace(".", "") == str(largest)
    assert format_amount(largest, 0) == str(largest)
