"""/metrics: behind the metrics token when one is set, elsewhere when it has its own port,
and cheap: a flood of scrapes reads the database once per refresh interval."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from recovery.api.context import AppContext
from tests.recovery.api.apps import Ticks, client_with
from tests.recovery.api.builders import appeal_body

TOKEN = "metrics-token-0123456789abcdef"


def test_with_a_token_set_a_scrape_needs_it(
    context: AppContext, auth: Any, alice: dict[str, str]
) -> None:
    with client_with(context, metrics_token=TOKEN) as client:
        missing = client.get("/metrics")
        assert missing.status_code == 401
        assert missing.json() == {
            "error": "Unauthorized",
            "detail": "/metrics needs `Authorization: Bearer <metrics token>` "
            "(RECOVERY_METRICS_TOKEN)",
            "reason_code": "unauthorized",
        }
        latin = "Bearer ü".encode("latin-1")
        for wrong in (f"Bearer {TOKEN}x", f"Basic {TOKEN}", alice["Authorization"], latin):
            refused = client.get("/metrics", headers={"Authorization": wrong})
            assert refused.status_code == 401, wrong
            assert refused.json()["reason_code"] == "unauthorized"
            assert TOKEN not in refused.text
        scraped = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert scraped.status_code == 200
        assert 'recovery_cases{state="submitted"} 0.0' in scraped.text


def test_with_a_metrics_port_the_api_says_where_metrics_are(context: AppContext) -> None:
    with client_with(context, metrics_port=9464, metrics_host="10.0.0.7") as client:
        response = client.get("/metrics")
    assert response.status_code == 404
    assert response.json() == {
        "error": "NotFound",
        "detail": "metrics are not served by the API here; scrape http://10.0.0.7:9464/metrics",
        "reason_code": "not_found",
    }


@pytest.fixture
def statements(context: AppContext) -> Iterator[list[str]]:
    """Every SQL statement the real engine sends while the test runs."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])  # (connection, cursor, statement, parameters, context, many)

    event.listen(context.database.engine, "before_cursor_execute", record)
    yield seen
    event.remove(context.database.engine, "before_cursor_execute", record)


def test_a_flood_of_scrapes_reads_the_database_once_per_refresh_interval(
    context: AppContext, alice: dict[str, str], statements: list[str]
) -> None:
    ticks = Ticks()
    with client_with(context, ticks, metrics_refresh_seconds=15) as client:
        assert client.post("/v1/appeals", json=appeal_body(), headers=alice).status_code == 201
        statements.clear()
        first = client.get("/metrics")
        assert 'recovery_cases{state="submitted"} 1.0' in first.text
        per_read = len(statements)
        assert sum("GROUP BY" in s for s in statements) == 1  # the case census
        for _ in range(50):
            ticks.advance(0.2)  # 10 s of scrapes, five a second
            assert client.get("/metrics").text == first.text
        assert len(statements) == per_read, "scrapes within the interval read nothing"

        # A new case shows once the interval has passed, after one more read.
        other = appeal_body(tx_hash="0x" + "cd" * 32)
        assert client.post("/v1/appeals", json=other, headers=alice).status_code == 201
        statements.clear()
        ticks.advance(5)
        for _ in range(10):
            later = client.get("/metrics")
            assert 'recovery_cases{state="submitted"} 2.0' in later.text
        assert len(statements) == per_read
