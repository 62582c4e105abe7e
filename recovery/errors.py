"""The root of every error the service raises on purpose.

Each error carries the HTTP status it maps to; the API renders all of them one way:
`{"error": "<ClassName>", "detail": "<message>", "reason_code": ...}`.
"""

from __future__ import annotations


class RecoveryError(Exception):
    """Raised for any refusal the service makes on purpose; subclasses set the status."""

    status_code: int = 400
    reason_code: str | None = None

    def __init__(self, detail: str, *, reason_code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if reason_code is not None:
            self.reason_code = reason_code


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
