"""Rate limits: per key, per client, stricter without a key and for filing; a 429 in the
one error shape with Retry-After, and the request passes again once that has passed."""

from __future__ import annotations

from typing import Any

import httpx
import yaml

from recovery.api.context import AppContext
from recovery.cli import openapi_yaml
from tests.recovery.api.apps import Ticks, client_with
from tests.recovery.api.builders import OTHER_DEPOSIT, appeal_body


def assert_limited(response: httpx.Response, setting: str) -> int:
    """The 429 of our error shape; returns its Retry-After."""
    assert response.status_code == 429, response.text
    body = response.json()
    assert set(body) == {"error", "detail", "reason_code"}
    assert (body["error"], body["reason_code"]) == ("RateLimited", "rate_limited")
    assert setting in body["detail"]
    retry_after = response.headers["Retry-After"]
    assert retry_after.isdigit(), retry_after
    assert f"retry after {retry_after} s" in body["detail"]
    return int(retry_after)


def test_a_key_over_its_limit_waits_retry_after_and_other_keys_do_not(
    context: AppContext, alice: dict[str, str], bob: dict[str, str]
) -> None:
    ticks = Ticks()
    with client_with(context, ticks, rate_limit_per_key=3) as client:
        for _ in range(3):
            assert client.get("/v1/appeals", headers=alice).status_code == 200
        refused = client.get("/v1/appeals", headers=alice)
        retry_after = assert_limited(refused, "RECOVERY_RATE_LIMIT_PER_KEY")
        assert retry_after == 20  # 3 a minute: a token every 20 s
        key_id = alice["Authorization"].split("_")[1]
        assert f"API key rk_{key_id} may make 3 a minute" in refused.json()["detail"]
        assert alice["Authorization"].split("_", 2)[2] not in refused.text, "no secret echoed"
        assert client.get("/v1/appeals", headers=bob).status_code == 200

        ticks.advance(retry_after - 1)
        assert_limited(client.get("/v1/appeals", headers=alice), "RECOVERY_RATE_LIMIT_PER_KEY")
        ticks.advance(1)
        assert client.get("/v1/appeals", headers=alice).status_code == 200
        assert_limited(client.get("/v1/appeals", headers=alice), "RECOVERY_RATE_LIMIT_PER_KEY")


def test_unauthenticated_requests_are_limited_harder_and_health_never(
    context: AppContext, alice: dict[str, str]
) -> None:
    ticks = Ticks()
    with client_with(context, ticks, rate_limit_unauthenticated=2) as client:
        assert client.get("/v1/networks").status_code == 200
        assert client.get("/v1/appeals").status_code == 401  # no key: counts as well
        retry_after = assert_limited(
            client.get("/v1/networks"), "RECOVERY_RATE_LIMIT_UNAUTHENTICATED"
        )
        assert retry_after == 30
        assert "unauthenticated requests from testclient" in client.get("/v1/networks").text
        # The same client with a key, and the probes, are not held back.
        assert client.get("/v1/networks", headers=alice).status_code == 200
        for _ in range(20):
            assert client.get("/healthz").status_code == 200
            assert client.get("/readyz").status_code == 200

        ticks.advance(retry_after)
        assert client.get("/v1/networks").status_code == 200


def test_filing_has_its_own_stricter_limit(
    context: AppContext, alice: dict[str, str], bob: dict[str, str]
) -> None:
    ticks = Ticks()
    with client_with(context, ticks, rate_limit_filing=2) as client:
        for n in range(2):
            body = appeal_body(tx_hash=f"0x{n:064x}")
            assert client.post("/v1/appeals", json=body, headers=alice).status_code == 201
        third = appeal_body(tx_hash=f"0x{2:064x}")
        retry_after = assert_limited(
            client.post("/v1/appeals", json=third, headers=alice), "RECOVERY_RATE_LIMIT_FILING"
        )
        assert retry_after == 30
        # Alice may still read; Bob may still file.
        assert len(client.get("/v1/appeals", headers=alice).json()["items"]) == 2
        bobs = appeal_body(tx_hash=f"0x{3:064x}", deposit_address=OTHER_DEPOSIT)
        assert client.post("/v1/appeals", json=bobs, headers=bob).status_code == 201

        ticks.advance(retry_after)
        assert client.post("/v1/appeals", json=third, headers=alice).status_code == 201


def test_a_client_is_limited_across_keys_and_told_by_trusted_proxies_only(
    context: AppContext, alice: dict[str, str], bob: dict[str, str]
) -> None:
    ticks = Ticks()
    settings: dict[str, Any] = {"rate_limit_per_client": 2, "trusted_proxies": "10.0.0.0/8"}
    with client_with(context, ticks, ("10.1.2.3", 4000), **settings) as proxied:
        one = {"X-Forwarded-For": "203.0.113.9, 10.9.9.9"}  # a client, then an inner proxy
        assert proxied.get("/v1/appeals", headers={**alice, **one}).status_code == 200
        assert proxied.get("/v1/appeals", headers={**bob, **one}).status_code == 200
        refused = proxied.get("/v1/appeals", headers={**bob, **one})
        assert_limited(refused, "RECOVERY_RATE_LIMIT_PER_CLIENT")
        assert "client 203.0.113.9 may make 2 a minute" in refused.json()["detail"]
        other = {"X-Forwarded-For": "203.0.113.10"}
        assert proxied.get("/v1/appeals", headers={**alice, **other}).status_code == 200
    with client_with(context, ticks, ("198.51.100.7", 4000), **settings) as direct:
        # Not a trusted proxy: its X-Forwarded-For is the client's own say, and ignored.
        for n in range(3):
            spoofed = {**alice, "X-Forwarded-For": f"192.0.2.{n}"}
            response = direct.get("/v1/appeals", headers=spoofed)
        assert_limited(response, "RECOVERY_RATE_LIMIT_PER_CLIENT")
        assert "client 198.51.100.7 may make" in response.json()["detail"]


def test_zero_turns_a_limit_off(context: AppContext, alice: dict[str, str]) -> None:
    off: dict[str, Any] = {
        "rate_limit_per_key": 0,
        "rate_limit_per_client": 0,
        "rate_limit_unauthenticated": 0,
        "rate_limit_filing": 0,
    }
    with client_with(context, Ticks(), **off) as client:
        for _ in range(200):
            assert client.get("/v1/networks").status_code == 200


def test_the_contract_declares_the_429_with_retry_after() -> None:
    spec = yaml.safe_load(openapi_yaml())
    filing = spec["paths"]["/v1/appeals"]["post"]["responses"]["429"]
    assert filing["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RateLimited"
    }
    assert filing["headers"]["Retry-After"]["schema"]["type"] == "integer"
    assert spec["components"]["schemas"]["RateLimited"]["properties"]["reason_code"] == {
        "const": "rate_limited"
    }
    assert "429" not in spec["paths"]["/healthz"]["get"]["responses"]
