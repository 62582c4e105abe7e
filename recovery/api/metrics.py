"""`GET /metrics`: Prometheus text format, public, kept out of the OpenAPI document."""

from __future__ import annotations

from fastapi import APIRouter, Response

from recovery.api.context import ContextDep
from recovery.metrics import CONTENT_TYPE, scrape

# Not part of the REST contract: scrapers read it, clients do not.
router = APIRouter(include_in_schema=False)


@router.get("/metrics")
def metrics(context: ContextDep) -> Response:
    """Cases per state, job cycle durations and errors, RPC traffic per network."""
    return Response(scrape(context.database, context.clock), media_type=CONTENT_TYPE)
