"""Builds the FastAPI application."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from recovery import __version__
from recovery.access import endpoints as access
from recovery.api import health, metrics
from recovery.api.context import AppContext
from recovery.api.errors import (
    DECLARED,
    error_responses,
    error_schema,
    install_error_handlers,
    rate_limited_response,
)
from recovery.api.limits import BodySizeLimit
from recovery.api.nul_guard import NulGuard, forbid_nul_in_contract
from recovery.api.rate_limits import UNLIMITED_PATHS, RateLimiter, RateLimits
from recovery.appeals import endpoints as appeals
from recovery.appeals.contract import appeal_schemas
from recovery.catalogue import endpoints as catalogue
from recovery.console import endpoints as console
from recovery.deposit_addresses import endpoints as deposit_addresses
from recovery.deposit_addresses.contract import deposit_address_schemas
from recovery.discovery import endpoints as discovery
from recovery.errors import InvalidInput
from recovery.i18n import endpoints as languages
from recovery.metrics import registry_for
from recovery.nodes import endpoints as nodes
from recovery.payouts import endpoints as payouts
from recovery.review import endpoints as review
from recovery.stats import endpoints as stats
from recovery.triage import endpoints as triage
from recovery.verify import endpoints as verify

DESCRIPTION = """\
Recovers mis-sent crypto deposits: tokens sent over the wrong network, or tokens the
exchange does not list, sent to one of its deposit addresses.

Every `/v1` route needs `Authorization: Bearer <api key>` except the public ones.
Amounts are integers in base units, sent as decimal strings.
Every route but the health probes is rate limited per API key and per client (stricter
without a key, and for filing): over a limit the answer is a 429 `RateLimited` with
`Retry-After` in seconds.
Errors always look like `{"error": "ClassName", "detail": "what is wrong and how to fix it",
"reason_code": "class_name"}`: each operation lists the error classes it may answer with,
and each class's schema names its stable snake_case `reason_code`.
"""


def create_app(context: AppContext, *, freeze_at_start: bool = False) -> FastAPI:
    """The API over `context` (database, policy, settings, clock).

    `freeze_at_start` (a serving process, not a test): once started, the objects built so
    far (modules, the policy, the app's routes and schemas) leave the garbage collector's
    care (`gc.freeze`). They live as long as the process, and each full collection that
    walked them (some 180,000 objects) took up to 118 ms, stalling every request in flight.
    """

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # The routes' async database connections belong to the loop that serves them.
        opened = await context.database.open_async()
        if freeze_at_start:
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            if opened:
                await context.database.close_async()

    app = FastAPI(
        title="Deposit recovery service",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.context = context
    # One snapshot of the database figures per app: scrapes within the interval share it.
    app.state.metrics = registry_for(
        context.database,
        context.clock,
        refresh_seconds=context.settings.metrics_refresh_seconds,
        monotonic=context.monotonic,
    )
    install_error_handlers(app)
    # Inside the size limit, so that reading a body to look for NULs is bounded by it.
    app.add_middleware(NulGuard)
    app.add_middleware(BodySizeLimit, max_bytes=context.settings.max_body_bytes)
    # Added last, so outermost: a request over its limit costs no body read.
    app.add_middleware(RateLimits, limiter=RateLimiter(context.settings, context.monotonic))
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(appeals.router)
    app.include_router(deposit_addresses.router)
    app.include_router(discovery.router)
    app.include_router(triage.router)
    app.include_router(stats.router)
    app.include_router(languages.router)
    app.include_router(verify.router)
    app.include_router(catalogue.router)
    app.include_router(review.user_router)
    app.include_router(review.review_router)
    app.include_router(review.admin_router)
    app.include_router(access.router)
    app.include_router(nodes.router)
    app.include_router(payouts.router)
    app.include_router(console.router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated spec, with FastAPI's validation-error shape replaced by ours.

    The appeal and deposit address bodies are the policy's: their networks, and the
    address and hash formats of each network's family, replace the flat models' schemas.
    """
    if app.openapi_schema is None:
        spec = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        for path, operations in spec.get("paths", {}).items():
            for operation in operations.values():
                response = operation.get("responses", {}).get("422")
                if response is not None and "HTTPValidationError" in str(response):
                    # FastAPI's own 422 for a route that declares none: request validation.
                    operation["responses"]["422"] = error_responses(InvalidInput)[422]
                if path not in UNLIMITED_PATHS:
                    operation.setdefault("responses", {})["429"] = rate_limited_response()
        policy = app.state.context.policy
        schemas.update(appeal_schemas(policy))
        schemas.update(deposit_address_schemas(policy))
        for name, error in sorted(DECLARED.items()):
            if name in schemas:
                raise TypeError(f"error class {name} shares its name with a schema")
            schemas[name] = error_schema(error)
        spec["components"]["schemas"] = dict(sorted(schemas.items()))
        forbid_nul_in_contract(spec)
        app.openapi_schema = spec
    return app.openapi_schema
