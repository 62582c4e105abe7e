"""A user filing claims through the API, and a checker over the devnets, for these tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient

from chains.evm import EvmAdapter
from recovery.access.keys import Role
from recovery.api.app import create_app
from recovery.api.context import AppContext
from recovery.appeals.repository import CaseRepository
from recovery.domain.case import Case
from recovery.domain.states import CaseStatus
from recovery.verification.service import Checker
from tests.conftest import Clock

DEPOSIT = "0x1111111111111111111111111111111111111111"
STRANGER = "0x3333333333333333333333333333333333333333"
REFUND = "0x2222222222222222222222222222222222222222"
# A deposit address opened for bsc, for transfers that went over ethereum by mistake.
BSC_DEPOSIT = "0x5555555555555555555555555555555555555555"


class Flow:
    """A user, her deposit address, the API and a checker over the devnets."""

    def __init__(
        self, client: TestClient, headers: dict[str, str], checker: Checker, context: AppContext
    ) -> None:
        self.client = client
        self.headers = headers
        self.checker = checker
        self.context = context

    def file(self, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "case_type": "wrong_network",
            "network": "bsc",
            "opened_for": "ethereum",
            "token": "native",
            "deposit_address": DEPOSIT,
            "refund_address": REFUND,
        }
        body.update(overrides)
        body = {k: v for k, v in body.items() if v is not None}
        response = self.client.post("/v1/appeals", json=body, headers=self.headers)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    def read(self, case: dict[str, Any]) -> dict[str, Any]:
        return self.client.get(f"/v1/appeals/{case['id']}", headers=self.headers).json()  # type: ignore[no-any-return]

    def events(self, case: dict[str, Any]) -> list[dict[str, Any]]:
        response = self.client.get(f"/v1/appeals/{case['id']}/events", headers=self.headers)
        return response.json()["items"]  # type: ignore[no-any-return]

    def stored(self, case: dict[str, Any]) -> Case:
        """The case as the database holds it (version included)."""
        with self.context.database.unit_of_work() as session:
            found = CaseRepository(session).get(case["id"])
        assert found is not None
        return found

    def move(self, case: dict[str, Any], *targets: CaseStatus, actor: str = "reviewer:bob") -> None:
        """Walk the case through `targets` by the transition table, as the review steps do."""
        with self.context.database.unit_of_work() as session:
            repository = CaseRepository(session)
            found = repository.get(case["id"])
            assert found is not None
            for target in targets:
                found.transition(target, actor=actor, at=self.context.clock())
            repository.save(found)


def make_flow(
    context: AppContext, auth: Any, adapters: dict[str, EvmAdapter], clock: Clock
) -> Iterator[Flow]:
    admin = auth("ops", Role.ADMIN)
    with TestClient(create_app(context)) as client:
        for address, opened_for in ((DEPOSIT, "ethereum"), (BSC_DEPOSIT, "bsc")):
            response = client.post(
                "/v1/deposit-addresses",
                json={"address": address, "owner": "alice", "networks": [opened_for]},
                headers=admin,
            )
            assert response.status_code == 201, response.text
        checker = Checker(context.database, context.policy, adapters, clock)
        yield Flow(client, auth("alice"), checker, context)
