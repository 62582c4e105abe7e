"""Recovery policy: the network catalogue, fee schedules and the pure engine that judges cases."""

from policies.conditions import CONDITIONS, ConditionResult
from policies.engine import Verdict, evaluate
from policies.errors import (
    InvalidFactsError,
    NotQuotableError,
    PolicyError,
    PolicyFileError,
    UnknownConditionError,
    UnknownNetwork,
)
from policies.facts import Facts
from policies.fees import NetworkCost, Quote, QuoteComponent, compute_quote
from policies.loader import load_policy
from policies.model import (
    CaseType,
    CaseTypePolicy,
    Family,
    FeeSchedule,
    ListedAsset,
    Network,
    Policy,
    RecoveryClass,
)
from policies.prices import PriceSource, StaticPriceSource
from policies.reasons import ReasonCode
from policies.summary import class_counts

__all__ = [
    "CONDITIONS",
    "CaseType",
    "CaseTypePolicy",
    "ConditionResult",
    "Facts",
    "Family",
    "FeeSchedule",
    "InvalidFactsError",
    "ListedAsset",
    "Network",
    "NetworkCost",
    "NotQuotableError",
    "Policy",
    "PolicyError",
    "PolicyFileError",
    "PriceSource",
    "Quote",
    "QuoteComponent",
    "ReasonCode",
    "RecoveryClass",
    "StaticPriceSource",
    "UnknownConditionError",
    "UnknownNetwork",
    "Verdict",
    "class_counts",
    "compute_quote",
    "evaluate",
    "load_policy",
]
