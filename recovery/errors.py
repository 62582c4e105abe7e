"""The root of every error the service raises on purpose.

Each error carries the HTTP status it maps to; the API renders all of them one way:
`{"error": "<ClassName>", "detail": "<message>", "reason_code": "<snake_case code>"}`.
Every class has its own stable `reason_code`: the snake_case of its name unless it
declares one (a rejection reason code, say). A few classes may carry one of a fixed list
of codes instead (`reason_codes`), such as a policy refusal naming the rule that refused.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

_WORD_START = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake_case(name: str) -> str:
    """`DuplicateClaim` -> `duplicate_claim`: the default reason code of an error class."""
    return _WORD_START.sub("_", name).lower()


class RecoveryError(Exception):
    """Raised for any refusal the service makes on purpose; subclasses set the status."""

    status_code: ClassVar[int] = 400
    reason_code: str = "recovery_error"
    # Codes an instance may carry instead of the class's own (none: only the class's own).
    reason_codes: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "reason_code" not in cls.__dict__:
            cls.reason_code = snake_case(cls.__name__)

    def __init__(self, detail: str, *, reason_code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if reason_code is not None:
            if reason_code not in self.possible_reason_codes():
                raise ValueError(f"{type(self).__name__} cannot carry reason code {reason_code!r}")
            self.reason_code = reason_code

    @classmethod
    def possible_reason_codes(cls) -> tuple[str, ...]:
        """Every reason code an error of this class may carry, its own first."""
        return (cls.reason_code, *(c for c in cls.reason_codes if c != cls.reason_code))


class NotFound(RecoveryError):
    """Raised when a resource does not exist or is not visible to the caller."""

    status_code = 404


class Conflict(RecoveryError):
    """Raised when a request conflicts with the current state of a resource."""

    status_code = 409


class InvalidInput(RecoveryError):
    """Raised when input is well-formed JSON but its values cannot be accepted."""

    status_code = 422


class Unauthorized(RecoveryError):
    """Raised when a request carries no valid API key."""

    status_code = 401


class Forbidden(RecoveryError):
    """Raised when the caller's role does not allow the action."""

    status_code = 403
