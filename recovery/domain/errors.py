"""Errors of the case domain."""

from __future__ import annotations

from recovery.errors import Conflict


class InvalidTransition(Conflict):
    """Raised when a case is asked to move along a transition the table does not list."""


class StaleCase(Conflict):
    """Raised when a case changed since it was read (optimistic lock lost)."""
