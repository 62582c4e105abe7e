"""Queues of the appeals desk and the rules that route a case to one (policy data, pure).

`policies/data/queues.yaml` names the queues (each with a target time to the first
decision and where a case goes when it misses it), the routing rules (first match wins)
and the priority points. `route` and `priority` are pure functions of a case's verdict
facts; the service stores their answers on the case.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from policies.conditions import CONDITIONS
from policies.errors import PolicyFileError

QUEUES_PATH = Path(__file__).parent / "data" / "queues.yaml"
# The review flags the engine raises (see policies/conditions.py).
FLAGS = frozenset({"deposit_address_has_code", "refund_address_is_contract"})


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Queue(_Frozen):
    """One queue: who works it, how soon the first decision is due, where a miss goes."""

    name: str = Field(min_length=1)
    target_minutes: int = Field(gt=0)
    escalate_to: str | None = None
    senior: bool = False

    @property
    def target(self) -> timedelta:
        """The time from entering review to the first decision."""
        return timedelta(minutes=self.target_minutes)


class Rule(_Frozen):
    """Route cases that match every field given to `queue`."""

    queue: str
    case_types: tuple[str, ...] | None = None
    classes: tuple[str, ...] | None = None
    families: tuple[str, ...] | None = None
    min_value: Decimal | None = None
    max_value: Decimal | None = None
    conditions: tuple[str, ...] | None = None
    flags: tuple[str, ...] | None = None


class Band(_Frozen):
    """Points for a value at or above `from_`."""

    from_: Decimal = Field(alias="from")
    points: int


class PriorityPoints(_Frozen):
    """How a case's priority is counted."""

    value_bands: tuple[Band, ...]
    flag_points: int = 0
    escalation_points: int = 0


class Routing(_Frozen):
    """The queues, the rules and the priority points."""

    version: str
    queues: dict[str, Queue]
    default: str
    rules: tuple[Rule, ...]
    priority: PriorityPoints

    @model_validator(mode="after")
    def _names_exist(self) -> Routing:
        named = [self.default, *(r.queue for r in self.rules)]
        named += [q.escalate_to for q in self.queues.values() if q.escalate_to]
        unknown = sorted(set(named) - set(self.queues))
        if unknown:
            raise ValueError(f"unknown queues: {', '.join(unknown)}")
        for rule in self.rules:
            bad = sorted(set(rule.conditions or ()) - set(CONDITIONS))
            bad += sorted(set(rule.flags or ()) - FLAGS)
            if bad:
                raise ValueError(f"rule for {rule.queue}: unknown conditions or flags {bad}")
        return self


@dataclass(frozen=True)
class CaseTraits:
    """What routing looks at: from a case's verdict and its network."""

    case_type: str
    network_class: str
    family: str
    value: Decimal | None
    conditions: tuple[str, ...]
    flags: tuple[str, ...]


@dataclass(frozen=True)
class Route:
    """Where a case goes and why (the rule that matched, by its place in the list)."""

    queue: str
    rule: int | None
    reason: str


def _matches(rule: Rule, traits: CaseTraits) -> bool:
    checks = [
        rule.case_types is None or traits.case_type in rule.case_types,
        rule.classes is None or traits.network_class in rule.classes,
        rule.families is None or traits.family in rule.families,
        rule.min_value is None or (traits.value is not None and traits.value >= rule.min_value),
        rule.max_value is None or (traits.value is not None and traits.value <= rule.max_value),
        rule.conditions is None or bool(set(rule.conditions) & set(traits.conditions)),
        rule.flags is None or bool(set(rule.flags) & set(traits.flags)),
    ]
    return all(checks)


def route(routing: Routing, traits: CaseTraits) -> Route:
    """The queue of the first rule the case matches, else the default queue."""
    for index, rule in enumerate(routing.rules):
        if _matches(rule, traits):
            fields = rule.model_dump(exclude_none=True, exclude={"queue"})
            said = ", ".join(f"{k}={v}" for k, v in fields.items()) or "any case"
            return Route(rule.queue, index, f"rule {index + 1} ({said})")
    return Route(routing.default, None, "no rule matched: the default queue")


def priority(routing: Routing, traits: CaseTraits, *, escalated: bool = False) -> int:
    """Points for the value band, each review flag, and an escalation."""
    points = 0
    if traits.value is not None:
        reached = [b.points for b in routing.priority.value_bands if traits.value >= b.from_]
        points += max(reached, default=0)
    points += routing.priority.flag_points * len(traits.flags)
    if escalated:
        points += routing.priority.escalation_points
    return points


def load_routing(path: Path | None = None) -> Routing:
    """Load and validate the queues and routing rules."""
    return _read(path or QUEUES_PATH)


@functools.cache
def _read(source: Path) -> Routing:
    try:
        return Routing.model_validate(yaml.safe_load(source.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyFileError(str(source), f"cannot be read: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PolicyFileError(str(source), f"{where}: {first['msg']}") from exc
