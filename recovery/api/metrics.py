"""`GET /metrics`: Prometheus text format behind the metrics token, out of the OpenAPI document.

With RECOVERY_METRICS_TOKEN set, a scrape needs `Authorization: Bearer <token>`; with
RECOVERY_METRICS_PORT set, `serve` answers scrapes on that address instead and this route
says where. The database figures come from a snapshot read at most once per
RECOVERY_METRICS_REFRESH_SECONDS, so a flood of scrapes costs no more queries.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, generate_latest

from recovery.api.context import ContextDep
from recovery.errors import NotFound, Unauthorized
from recovery.metrics import CONTENT_TYPE
from recovery.settings import Settings

# Not part of the REST contract: scrapers read it, clients do not.
router = APIRouter(include_in_schema=False)


def metrics_token(settings: Settings) -> str | None:
    """The token scrapes must carry (None: not set; an empty value counts as not set)."""
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    return token or None


def metrics_address(settings: Settings) -> str | None:
    """Where `serve` answers scrapes when it has a metrics port of its own."""
    if settings.metrics_port is None:
        return None
    return f"http://{settings.metrics_host}:{settings.metrics_port}/metrics"


def metrics_refusal(settings: Settings) -> str | None:
    """Why `serve` must not start with these settings (None: it may): outside development
    metrics need a token or a separate address."""
    if settings.environment == "development" or metrics_token(settings) or settings.metrics_port:
        return None
    return (
        "outside development /metrics needs RECOVERY_METRICS_TOKEN (scrapes then send "
        "`Authorization: Bearer <token>`), or RECOVERY_METRICS_PORT (and RECOVERY_METRICS_HOST) "
        "to serve metrics on a separate, private address"
    )


def _check_token(request: Request, token: str) -> None:
    scheme, _, given = (request.headers.get("authorization") or "").partition(" ")
    if not given:
        raise Unauthorized(
            "/metrics needs `Authorization: Bearer <metrics token>` (RECOVERY_METRICS_TOKEN)"
        )
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        raise Unauthorized("wrong metrics token: send `Authorization: Bearer <metrics token>`")


@router.get("/metrics")
def metrics(request: Request, context: ContextDep) -> Response:
    """Cases per state, job cycle durations and errors, RPC traffic per network."""
    elsewhere = metrics_address(context.settings)
    if elsewhere is not None:
        raise NotFound(f"metrics are not served by the API here; scrape {elsewhere}")
    token = metrics_token(context.settings)
    if token is not None:
        _check_token(request, token)
    registry = request.app.state.metrics
    assert isinstance(registry, CollectorRegistry)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE)
