"""Errors of the policy package: one root, each subclass says when it is raised."""

from __future__ import annotations

from collections.abc import Iterable


class PolicyError(Exception):
    """Raised when anything in the policy package fails; the root of its errors."""


class PolicyFileError(PolicyError):
    """Raised when a policy file cannot be read, parsed or validated."""

    def __init__(self, source: str, message: str) -> None:
        self.source = source
        self.problem = message
        super().__init__(f"{source}: {message}")


class UnknownConditionError(PolicyFileError):
    """Raised when policy data names a condition id that has no implementation."""


class UnknownNetwork(PolicyError):
    """Raised when a network id is not in the policy catalogue."""

    def __init__(self, network_id: str, known: Iterable[str]) -> None:
        self.network_id = network_id
        self.known = tuple(sorted(known))
        super().__init__(f"unknown network {network_id!r}; known: {', '.join(self.known)}")


class InvalidFactsError(PolicyError):
    """Raised when the facts given to the engine are incomplete or contradict themselves."""


class NotQuotableError(PolicyError):
    """Raised when a fee cannot be computed: no price and no rule for unpriced tokens."""
