"""One error shape everywhere: `{"error": ClassName, "detail": message, "reason_code": code}`.

Endpoints declare the error classes they may return with `error_responses(...)`; each
class becomes a schema of its own in the OpenAPI document (its name and reason codes as
constants), so a client can tell every refusal apart by `error` or `reason_code`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from recovery.errors import InvalidInput, NotFound, RecoveryError, Unauthorized

log = logging.getLogger(__name__)


class MethodNotAllowed(RecoveryError):
    """Raised when a route exists but not for the request's method; `Allow` lists those it has."""

    status_code = 405


class PayloadTooLarge(RecoveryError):
    """Raised when a request body is larger than the configured limit."""

    status_code = 413


class UnsupportedMediaType(RecoveryError):
    """Raised when a request body comes in a media type the route does not read."""

    status_code = 415


class RateLimited(RecoveryError):
    """Raised when a key or client made more requests than its limit; wait `Retry-After` seconds."""

    status_code = 429


class InternalError(RecoveryError):
    """Raised when the service fails on its own account; the error is logged."""

    status_code = 500


# Statuses Starlette raises by itself, and the error class each is rendered as.
_HTTP_ERRORS: dict[int, type[RecoveryError]] = {
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
}

# What any route behind an API key may answer: no valid key, or a malformed request
# (an over-long Authorization header, a bad parameter or body).
AUTHENTICATED: tuple[type[RecoveryError], ...] = (Unauthorized, InvalidInput)

# Every error class some endpoint declares, by name: the OpenAPI document shows these.
DECLARED: dict[str, type[RecoveryError]] = {}


class ErrorBody(BaseModel):
    """How every error is rendered."""

    error: str = Field(description="The error's class name, e.g. DuplicateClaim.")
    detail: str = Field(description="What is wrong and how to fix it.")
    reason_code: str = Field(
        description="A stable snake_case code of the error class, e.g. duplicate_claim."
    )


def error_schema(error: type[RecoveryError]) -> dict[str, Any]:
    """The JSON schema of one error class's body: its name and reason codes are constants."""
    codes = error.possible_reason_codes()
    return {
        "title": error.__name__,
        "description": (error.__doc__ or "").strip(),
        "type": "object",
        "properties": {
            "error": {"const": error.__name__},
            "detail": {"type": "string", "description": "What is wrong and how to fix it."},
            "reason_code": {"const": codes[0]} if len(codes) == 1 else {"enum": list(codes)},
        },
        "required": ["error", "detail", "reason_code"],
    }


def _content(errors: list[type[RecoveryError]]) -> dict[str, Any]:
    refs = [{"$ref": f"#/components/schemas/{e.__name__}"} for e in errors]
    schema = refs[0] if len(refs) == 1 else {"oneOf": refs}
    return {"application/json": {"schema": schema}}


def error_responses(*errors: type[RecoveryError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the error classes an endpoint may return."""
    by_status: dict[int, list[type[RecoveryError]]] = {}
    for error in dict.fromkeys(errors):  # a class named twice is declared once
        DECLARED.setdefault(error.__name__, error)
        if DECLARED[error.__name__] is not error:
            raise TypeError(f"two error classes are called {error.__name__}")
        by_status.setdefault(error.status_code, []).append(error)
    return {
        status: {
            "description": "; ".join(f"{e.__name__}: {(e.__doc__ or '').strip()}" for e in group),
            "content": _content(group),
        }
        for status, group in sorted(by_status.items())
    }


def rate_limited_response() -> dict[str, Any]:
    """The OpenAPI 429 of a rate-limited route (recovery/api/rate_limits.py), with `Retry-After`."""
    return {
        **error_responses(RateLimited)[429],
        "headers": {
            "Retry-After": {
                "description": "Whole seconds to wait before the request can succeed.",
                "schema": {"type": "integer", "minimum": 1},
            }
        },
    }


def _render(
    status: int,
    error: str,
    detail: str,
    reason_code: str,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(error=error, detail=detail, reason_code=reason_code)
    return JSONResponse(status_code=status, content=body.model_dump(), headers=dict(headers or {}))


def render_error(exc: RecoveryError, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The response of one error, in the one shape."""
    return _render(exc.status_code, type(exc).__name__, exc.detail, exc.reason_code, headers)


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


def validation_detail(exc: RequestValidationError) -> str:
    """What FastAPI's request validation found wrong, one clause per field."""
    messages = []
    for error in exc.errors():
        where = _location(tuple(error.get("loc", ())))
        if error.get("type") == "extra_forbidden":
            messages.append(f"{where}: unknown field; remove it")
        elif error.get("type") == "json_invalid":
            messages.append(f"body is not valid JSON: {error.get('ctx', {}).get('error', '')}")
        else:
            messages.append(f"{where}: {error.get('msg')}")
    return "; ".join(messages)


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app serves on the request's path.

    Asked of the routes one method at a time: included routers do not expose their
    routes' methods, but each answers whether a request with that method would match.
    """
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes
        )
    ]


def install_error_handlers(app: FastAPI) -> None:
    """Render domain errors, validation errors and HTTP errors in the one shape."""

    @app.exception_handler(RecoveryError)
    async def _domain(_: Request, exc: RecoveryError) -> JSONResponse:
        return render_error(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        # Request validation and the service's own checks are one family: InvalidInput.
        return render_error(InvalidInput(validation_detail(exc)))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = str(exc.detail)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names the methods of the first route on the path; list every route's.
            allowed = ", ".join(_allowed_methods(request))
            headers["Allow"] = allowed
            detail = f"{request.method} is not allowed on {request.url.path}; use {allowed}"
        elif exc.status_code == 404 and detail == "Not Found":
            detail = f"no route {request.url.path}; the routes are listed at /openapi.json"
        if exc.status_code == 400:
            # FastAPI's answer to a body it cannot decode (not UTF-8, say): invalid input.
            return render_error(
                InvalidInput(f"body could not be read ({exc.detail}); send a UTF-8 JSON document")
            )
        error = _HTTP_ERRORS.get(exc.status_code)
        if error is None:
            return _render(exc.status_code, "HTTPError", detail, "http_error", headers)
        return render_error(error(detail), headers)

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: DataError) -> JSONResponse:
        # Input the database cannot hold (a NUL character in text on PostgreSQL, say): the
        # transaction was rolled back, so nothing is half-written; the client can fix it.
        log.info("refused input on %s %s: %s", request.method, request.url.path, exc.orig)
        what = (
            "a text value contains a NUL character (\\u0000 or %00); remove it"
            if "NUL" in str(exc.orig)
            else "a value is out of the range the service stores; check numbers and lengths"
        )
        return render_error(InvalidInput(f"the request could not be stored: {what}"))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return render_error(InternalError("the service failed; the error was logged"))
