"""Apps over the test's database with settings of the test's own, and a monotonic clock
the tests move by hand (rate limit buckets, the metrics snapshot)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi.testclient import TestClient

from recovery.api.app import create_app
from recovery.api.context import AppContext
from recovery.settings import Settings


class Ticks:
    """Seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def client_with(
    context: AppContext,
    ticks: Ticks | None = None,
    client: tuple[str, int] = ("testclient", 50000),
    **settings: Any,
) -> TestClient:
    """A client of a new app over `context`'s database with these settings."""
    configured = replace(
        context,
        settings=Settings(database_url=str(context.database.engine.url), **settings),
        monotonic=ticks or context.monotonic,
    )
    return TestClient(create_app(configured), client=client)
