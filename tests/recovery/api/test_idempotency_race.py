"""Identical keyed filings racing each other over a real server all get the one case."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from recovery.api.app import create_app
from recovery.api.context import AppContext
from recovery.db.tables import CaseRow, IdempotencyKeyRow
from tests.recovery.api.builders import appeal_body

RACERS = 50


@pytest.fixture
def server(context: AppContext) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, in a thread of this process (its
    lifespan opens the async engine there, as `recovery serve` does)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        create_app(context), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not instance.started:
        assert time.monotonic() < deadline, "uvicorn did not start in 10 s"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


def test_racing_identical_keyed_filings_all_get_the_one_case(
    server: str, client: TestClient, alice: dict[str, str], context: AppContext
) -> None:
    headers = {**alice, "Idempotency-Key": "race-1"}
    body = appeal_body()
    start = threading.Barrier(RACERS)

    def file_once(_: int) -> httpx.Response:
        with httpx.Client(base_url=server, timeout=60) as http:
            start.wait()
            return http.post("/v1/appeals", json=body, headers=headers)

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        responses = list(pool.map(file_once, range(RACERS)))

    statuses = sorted({r.status_code for r in responses})
    assert statuses == [201], [r.text for r in responses if r.status_code != 201][:3]
    assert len({r.json()["id"] for r in responses}) == 1
    created = [r for r in responses if r.headers.get("Idempotent-Replayed") != "true"]
    assert len(created) == 1
    with context.database.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(CaseRow)) == 1
        assert session.scalar(select(func.count()).select_from(IdempotencyKeyRow)) == 1


def test_racing_filings_of_one_transfer_under_different_keys_make_one_case_and_409s(
    server: str, client: TestClient, alice: dict[str, str], context: AppContext
) -> None:
    body = appeal_body()
    start = threading.Barrier(RACERS)

    def file_once(n: int) -> httpx.Response:
        with httpx.Client(base_url=server, timeout=60) as http:
            start.wait()
            return http.post(
                "/v1/appeals", json=body, headers={**alice, "Idempotency-Key": f"racer-{n}"}
            )

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        responses = list(pool.map(file_once, range(RACERS)))

    created = [r for r in responses if r.status_code == 201]
    refused = [r for r in responses if r.status_code != 201]
    assert len(created) == 1, [r.text for r in created]
    assert {r.status_code for r in refused} == {409}, [r.text for r in refused][:3]
    assert {r.json()["reason_code"] for r in refused} == {"duplicate_claim"}
    assert all(created[0].json()["reference"] in r.json()["detail"] for r in refused)
    with context.database.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(CaseRow)) == 1
        assert session.scalar(select(func.count()).select_from(IdempotencyKeyRow)) == 1
