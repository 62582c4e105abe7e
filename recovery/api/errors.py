"""One error shape everywhere: `{"error": ClassName, "detail": message, "reason_code": ...}`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from recovery.errors import RecoveryError

log = logging.getLogger(__name__)

_HTTP_NAMES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
}


class ErrorBody(BaseModel):
    """How every error is rendered."""

    error: str = Field(description="The error's class name, e.g. DuplicateClaim.")
    detail: str = Field(description="What is wrong and how to fix it.")
    reason_code: str | None = Field(default=None, description="A rejection reason code.")


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the error statuses an endpoint may return."""
    return {status: {"model": ErrorBody} for status in statuses}


def _render(status: int, error: str, detail: str, reason_code: str | None = None) -> JSONResponse:
    body = ErrorBody(error=error, detail=detail, reason_code=reason_code)
    return JSONResponse(status_code=status, content=body.model_dump(exclude_none=True))


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    """Render domain errors, validation errors and HTTP errors in the one shape."""

    @app.exception_handler(RecoveryError)
    async def _domain(_: Request, exc: RecoveryError) -> JSONResponse:
        return _render(exc.status_code, type(exc).__name__, exc.detail, exc.reason_code)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        messages = []
        for error in exc.errors():
            where = _location(tuple(error.get("loc", ())))
            if error.get("type") == "extra_forbidden":
                messages.append(f"{where}: unknown field; remove it")
            elif error.get("type") == "json_invalid":
                messages.append(f"body is not valid JSON: {error.get('ctx', {}).get('error', '')}")
            else:
                messages.append(f"{where}: {error.get('msg')}")
        return _render(422, "ValidationError", "; ".join(messages))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        name = _HTTP_NAMES.get(exc.status_code, "HTTPError")
        return _render(exc.status_code, name, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _render(500, "InternalError", "the service failed; the error was logged")
