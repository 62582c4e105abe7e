"""The ceiling the service is measured against: Starlette over raw asyncpg, as small as it can be.

    uvicorn benchmarks.api_ceiling:app   (BENCH_DATABASE_URL, BENCH_KEYS_FILE set)

The same three routes as the service, on the same rows: one case by its id (one SELECT),
one page of 50 of the caller's cases (one SELECT over the claimant index), and filing
(one INSERT into `ceiling_cases`, a copy of `cases` with the same columns and indexes, so
that the service's tables see only the service's writes). PostgreSQL writes each answer's
JSON (`row_to_json`), so Python passes text on and decodes nothing. The caller is found in a dict
loaded at start (BENCH_KEYS_FILE: {"Bearer <key>": "<subject>"}): no round trip, no hash.
`/ping` answers without the database: the HTTP stack's and the load generator's ceiling.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# PostgreSQL writes the JSON (row_to_json): Python only passes the text on.
_INSERT = """
    INSERT INTO ceiling_cases AS c (id, claimant, case_type, network, opened_for, tx_hash,
        token, deposit_address, refund_address, claimed_amount, status, version, last_seq,
        created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::numeric, 'submitted', 0, 0, now(), now())
    RETURNING row_to_json(c)::text
"""
_ONE = "SELECT row_to_json(c)::text FROM cases AS c WHERE id = $1 AND claimant = $2"
_PAGE = """
    SELECT coalesce(json_agg(c), '[]')::text FROM (
        SELECT * FROM cases WHERE claimant = $1 ORDER BY number DESC LIMIT 50
    ) AS c
"""
_UNAUTHORIZED = Response(b'{"error":"Unauthorized"}', 401, media_type="application/json")


def _json(body: str, status: int = 200) -> Response:
    return Response(body, status, media_type="application/json")


def _caller(request: Request) -> str | None:
    keys: dict[str, str] = request.app.state.keys
    return keys.get(request.headers.get("authorization", ""))


async def one_case(request: Request) -> Response:
    """GET /v1/appeals/{id}: one SELECT by the case's unique id (and its claimant)."""
    subject = _caller(request)
    if subject is None:
        return _UNAUTHORIZED
    found = await request.app.state.pool.fetchval(_ONE, request.path_params["case_id"], subject)
    if found is None:
        return _json('{"error":"CaseNotFound"}', 404)
    return _json(found)


async def page(request: Request) -> Response:
    """GET /v1/appeals?limit=50: the caller's newest 50 cases."""
    subject = _caller(request)
    if subject is None:
        return _UNAUTHORIZED
    items = await request.app.state.pool.fetchval(_PAGE, subject)
    return _json(f'{{"items":{items},"next_cursor":null}}')


async def file_appeal(request: Request) -> Response:
    """POST /v1/appeals: one INSERT of the body's fields."""
    subject = _caller(request)
    if subject is None:
        return _UNAUTHORIZED
    body: dict[str, Any] = json.loads(await request.body())
    found = await request.app.state.pool.fetchval(
        _INSERT,
        str(uuid.uuid4()),
        subject,
        body["case_type"],
        body["network"],
        body.get("opened_for"),
        body["tx_hash"],
        body["token"],
        body["deposit_address"],
        body["refund_address"],
        body.get("claimed_amount"),
    )
    return _json(found, 201)


async def ping(_: Request) -> Response:
    """No database: what the server and the load generator manage alone."""
    return Response(b'{"ok":true}', media_type="application/json")


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """One pool of 10 connections for the process, like the service's pool size."""
    app.state.keys = json.loads(Path(os.environ["BENCH_KEYS_FILE"]).read_text())
    app.state.pool = await asyncpg.create_pool(
        os.environ["BENCH_DATABASE_URL"], min_size=10, max_size=10
    )
    try:
        yield
    finally:
        await app.state.pool.close()


app = Starlette(
    routes=[
        Route("/v1/appeals/{case_id}", one_case),
        Route("/v1/appeals", page, methods=["GET"]),
        Route("/v1/appeals", file_appeal, methods=["POST"]),
        Route("/ping", ping),
    ],
    lifespan=lifespan,
)
