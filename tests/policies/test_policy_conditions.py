"""Each condition id: pass, fail and pending, with the values in the detail."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from policies import Facts, Policy
from policies.conditions import CONDITIONS, ConditionContext, parameter_problem
from policies.model import ConditionRef


def run(
    policy: Policy,
    facts: Facts,
    ref: ConditionRef,
    value: Decimal | None = Decimal("1000"),
    where: str = "on bsc",
) -> Any:
    network = policy.network(facts.network)
    opened_for = policy.network(facts.opened_for) if facts.opened_for else None
    context = ConditionContext(
        facts=facts,
        network=network,
        opened_for=opened_for,
        value=value,
        currency="USD",
        asset="USDT",
    )
    return CONDITIONS[ref.id](ref, context, where)


CASES = [
    # (id, params, facts overrides, value, status, reason code, words in the detail)
    ("deposit_address_is_eoa", {}, {"deposit_address_is_contract": False}, None, "pass", None, []),
    (
        "deposit_address_is_eoa",
        {},
        {"deposit_address_is_contract": True},
        None,
        "fail",
        "deposit_address_is_contract",
        ["contract", "bsc"],
    ),
    (
        "deposit_address_is_eoa",
        {},
        {"deposit_address_is_contract": None},
        None,
        "pending",
        None,
        [],
    ),
    ("min_value", {"value": "50"}, {}, Decimal("50"), "pass", None, ["50.00"]),
    (
        "min_value",
        {"value": "50"},
        {},
        Decimal("12.5"),
        "fail",
        "below_minimum_value",
        ["12.50 USD", "minimum 50.00 USD", "on bsc"],
    ),
    ("min_value", {"value": "50"}, {}, None, "pending", None, ["no price", "50.00 USD"]),
    ("ownership_proof", {}, {"ownership_proven": True}, None, "pass", None, []),
    ("ownership_proof", {}, {"ownership_proven": False}, None, "pending", None, []),
    (
        "ownership_proof",
        {},
        {"ownership_proven": False, "at_approval": True, "sender": "0xSender"},
        None,
        "fail",
        "ownership_not_proven",
        ["0xSender"],
    ),
    ("manual_key_ceremony", {}, {}, None, "pending", None, ["operator", "ceremony"]),
    ("manual_key_ceremony", {}, {"ownership_proven": True}, None, "pending", None, ["operator"]),
    ("token_transferable", {}, {"token_transferable": True}, None, "pass", None, []),
    (
        "token_transferable",
        {},
        {"token_transferable": False},
        None,
        "fail",
        "token_not_transferable",
        ["USDT"],
    ),
    ("token_transferable", {}, {"token_transferable": None}, None, "pending", None, []),
    ("token_transferable", {}, {"token": None, "token_transferable": None}, None, "pass", None, []),
    ("max_age_days", {"days": 90}, {"transfer_time_days_ago": 90}, None, "pass", None, ["90"]),
    (
        "max_age_days",
        {"days": 90},
        {"transfer_time_days_ago": 91},
        None,
        "fail",
        "transfer_too_old",
        ["91 days old", "90 days"],
    ),
    ("max_age_days", {"days": 90}, {"transfer_time": None}, None, "pending", None, []),
    ("same_key_derivation", {}, {}, None, "pass", None, ["secp256k1-bip44-60"]),
    (
        "same_key_derivation",
        {},
        {"network": "cosmoshub"},
        None,
        "fail",
        "pair_unsupported",
        ["cosmoshub", "secp256k1-bip44-118"],
    ),
    (
        "same_key_derivation",
        {},
        {"case_type": "unlisted_token", "opened_for": None},
        None,
        "pass",
        None,
        [],
    ),
]


@pytest.mark.parametrize(
    ("condition", "params", "overrides", "value", "status", "code", "words"), CASES
)
def test_condition(
    policy: Policy,
    make_facts: Callable[..., Facts],
    condition: str,
    params: dict[str, Any],
    overrides: dict[str, Any],
    value: Decimal | None,
    status: str,
    code: str | None,
    words: list[str],
) -> None:
    overrides = dict(overrides)
    if "transfer_time_days_ago" in overrides:
        days = overrides.pop("transfer_time_days_ago")
        overrides["transfer_time"] = make_facts().now - timedelta(days=days)
    facts = make_facts(**overrides)
    result = run(policy, facts, ConditionRef(id=condition, **params), value=value)
    assert (result.id, result.status, result.reason_code) == (condition, status, code)
    for word in words:
        assert word in result.detail
    assert result.detail


def test_every_condition_id_is_tested() -> None:
    assert {case[0] for case in CASES} == set(CONDITIONS)


@pytest.mark.parametrize(
    ("ref", "problem"),
    [
        (ConditionRef(id="min_value", value=Decimal(1)), None),
        (ConditionRef(id="max_age_days", days=3), None),
        (ConditionRef(id="ownership_proof"), None),
        (ConditionRef(id="telepathy"), "unknown condition id 'telepathy'"),
        (ConditionRef(id="min_value"), "needs value"),
        (ConditionRef(id="max_age_days"), "needs days"),
        (ConditionRef(id="ownership_proof", days=3), "takes no days"),
    ],
)
def test_parameter_problem(ref: ConditionRef, problem: str | None) -> None:
    found = parameter_problem(ref)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found
