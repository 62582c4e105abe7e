"""Refund addresses the service never pays are refused at filing, each with its reason code."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from recovery.api.context import AppContext
from recovery.db.tables import CaseRow
from tests.recovery.api.builders import DEPOSIT, OTHER_DEPOSIT, appeal_body

TOKEN = "0x55d398326f99059fF775485246999027B3197955"
GAS_WALLET = "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc"


def _cases(context: AppContext) -> int:
    with context.database.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(CaseRow)) or 0)


@pytest.mark.parametrize(
    ("refund", "overrides", "reason_code", "words"),
    [
        ("0x" + "0" * 40, {}, "refund_address_zero", "zero address"),
        (DEPOSIT, {}, "refund_address_ours", "address of this service"),
        (DEPOSIT.lower(), {}, "refund_address_ours", "address of this service"),
        (OTHER_DEPOSIT, {}, "refund_address_ours", "address of this service"),
        (GAS_WALLET, {}, "refund_address_ours", "address of this service"),
        (TOKEN, {"token": TOKEN}, "refund_address_is_token", "token's own contract"),
    ],
    ids=["zero", "the-deposit-address", "lowercase-deposit", "another-deposit", "gas", "token"],
)
def test_a_refund_address_the_service_never_pays_is_refused(
    client: TestClient,
    context: AppContext,
    alice: dict[str, str],
    bob: dict[str, str],
    refund: str,
    overrides: dict[str, Any],
    reason_code: str,
    words: str,
) -> None:
    context.gas_wallet = GAS_WALLET
    response = client.post(
        "/v1/appeals", json=appeal_body(refund_address=refund, **overrides), headers=alice
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["reason_code"] == reason_code
    assert words in body["detail"]
    assert "give the address of a wallet you control" in body["detail"]
    assert _cases(context) == 0, "nothing half-written"


def test_an_ordinary_refund_address_is_accepted(
    client: TestClient, context: AppContext, alice: dict[str, str]
) -> None:
    context.gas_wallet = GAS_WALLET
    response = client.post("/v1/appeals", json=appeal_body(), headers=alice)
    assert response.status_code == 201, response.text
