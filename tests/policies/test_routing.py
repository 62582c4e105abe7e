"""Routing rules, table-tested: which queue a case goes to, and its priority."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from policies import PolicyFileError
from policies.routing import QUEUES_PATH, CaseTraits, load_routing, priority, route


def traits(**given: object) -> CaseTraits:
    values: dict[str, object] = {
        "case_type": "wrong_network",
        "network_class": "direct",
        "family": "evm",
        "value": Decimal("600"),
        "conditions": (),
        "flags": (),
    }
    values.update(given)
    return CaseTraits(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "queue"),
    [
        ({}, "standard_evm"),
        ({"case_type": "unlisted_token"}, "standard_evm"),
        ({"network_class": "conditional"}, "conditional"),
        ({"conditions": ("manual_key_ceremony",)}, "conditional"),
        # Manual key ceremonies go to their team whatever the value.
        ({"conditions": ("manual_key_ceremony",), "value": Decimal("50000")}, "conditional"),
        ({"value": Decimal("10000")}, "high_value"),
        ({"value": Decimal("9999.99")}, "standard_evm"),
        # An unpriced case matches no value bound.
        ({"value": None}, "standard_evm"),
        ({"flags": ("deposit_address_has_code",)}, "security"),
        ({"flags": ("refund_address_is_contract",), "value": Decimal("20000")}, "security"),
        ({"network_class": "conditional", "value": Decimal("20000")}, "high_value"),
        # No rule for another family: the default queue.
        ({"family": "cosmos", "network_class": "conditional"}, "conditional"),
        ({"family": "cosmos"}, "standard_evm"),
    ],
)
def test_a_case_is_routed_by_the_first_rule_it_matches(
    given: dict[str, object], queue: str
) -> None:
    assert route(load_routing(), traits(**given)).queue == queue


def test_the_route_says_which_rule_sent_it() -> None:
    found = route(load_routing(), traits(flags=("deposit_address_has_code",)))
    assert found.rule == 0
    assert "flags" in found.reason
    fallback = route(load_routing(), traits(family="cosmos"))
    assert (fallback.rule, fallback.reason) == (None, "no rule matched: the default queue")


@pytest.mark.parametrize(
    ("given", "escalated", "points"),
    [
        ({}, False, 0),
        ({"value": Decimal("1000")}, False, 10),
        ({"value": Decimal("250000")}, False, 60),
        ({"value": None}, False, 0),
        ({"flags": ("deposit_address_has_code", "refund_address_is_contract")}, False, 40),
        ({"value": Decimal("12000")}, True, 80),
    ],
)
def test_priority_counts_value_flags_and_escalation(
    given: dict[str, object], escalated: bool, points: int
) -> None:
    assert priority(load_routing(), traits(**given), escalated=escalated) == points


def test_a_rule_naming_an_unknown_queue_or_condition_is_refused(tmp_path: Path) -> None:
    raw = yaml.safe_load(QUEUES_PATH.read_text(encoding="utf-8"))
    for change in (
        {"rules": [{"queue": "nowhere"}]},
        {"rules": [{"queue": "senior", "conditions": ["magic"]}]},
        {"default": "nowhere"},
    ):
        path = tmp_path / "queues.yaml"
        path.write_text(yaml.safe_dump({**raw, **change}), encoding="utf-8")
        with pytest.raises(PolicyFileError):
            load_routing(path)
