"""A verified, quoted case on the bsc devnet, ready for acceptance and review."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account
from fastapi.testclient import TestClient

from chains.devnet import DevnetCluster
from recovery.access.keys import Role
from recovery.api.app import create_app
from recovery.api.context import AppContext
from recovery.verification.service import Checker
from tests.conftest import Clock

Account.enable_unaudited_hdwallet_features()
DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEPOSIT = "0x5555555555555555555555555555555555555555"


def dev_key(index: int) -> Any:
    """The key of anvil's development account `index` (for signing challenges)."""
    return Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")


@dataclass
class Desk:
    """The API, a user, two reviewers, and a checker over the devnets."""

    client: TestClient
    alice: dict[str, str]
    rita: dict[str, str]
    rob: dict[str, str]
    checker: Checker
    clock: Clock
    devnet: DevnetCluster
    deposit: str = DEPOSIT

    def read(self, case: dict[str, Any]) -> dict[str, Any]:
        response = self.client.get(f"/v1/appeals/{case['id']}", headers=self.alice)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def events(self, case: dict[str, Any]) -> list[dict[str, Any]]:
        response = self.client.get(f"/v1/appeals/{case['id']}/events", headers=self.alice)
        return response.json()["items"]  # type: ignore[no-any-return]

    def staff_notes(self, case: dict[str, Any]) -> list[dict[str, str]]:
        """Each event's staff view (actor and full detail), as a reviewer reads them."""
        response = self.client.get(f"/v1/appeals/{case['id']}/events", headers=self.rob)
        assert response.status_code == 200, response.text
        return [e["staff"] for e in response.json()["items"]]

    def quoted_case(
        self,
        *,
        wei: int = 10**18,
        sender_index: int = 8,
        refund: str | None = None,
        token: str | None = None,
        network: str = "bsc",
    ) -> dict[str, Any]:
        """A transfer to alice's ethereum address, verified and quoted.

        By default native BNB over bsc (a wrong-network case); with `network="ethereum"`
        an unlisted-token case; `token` sends that token instead of the native coin.
        """
        chain = self.devnet.chain(network)
        sender = chain.accounts[sender_index]
        chain.fund(sender, 10**20)
        if token is None:
            tx = chain.send(sender, to=self.deposit, value=wei)
        else:
            tx = chain.mis_sent_deposit(token, self.deposit, wei, sender=sender)
        wrong_network = network != "ethereum"
        body = {
            "case_type": "wrong_network" if wrong_network else "unlisted_token",
            "network": network,
            "opened_for": "ethereum" if wrong_network else None,
            "tx_hash": tx,
            "token": token or "native",
            "deposit_address": self.deposit,
            "refund_address": refund or sender,
            "claimed_amount": str(wei),
        }
        body = {k: v for k, v in body.items() if v is not None}
        filed = self.client.post("/v1/appeals", json=body, headers=self.alice)
        assert filed.status_code == 201, filed.text
        case = filed.json()
        self.checker.verify_cycle()
        chain.mine(2)
        self.clock.advance(seconds=2)
        self.checker.confirm_cycle()
        quoted = self.read(case)
        assert quoted["status"] == "quoted", quoted
        return quoted

    def accept(self, case: dict[str, Any]) -> dict[str, Any]:
        quote_id = case["verdict"]["quote"]["id"]
        response = self.client.post(
            f"/v1/appeals/{case['id']}/accept", json={"quote_id": quote_id}, headers=self.alice
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def prove(self, case: dict[str, Any], key_index: int) -> Any:
        challenge = self.client.get(f"/v1/appeals/{case['id']}/challenge", headers=self.alice)
        assert challenge.status_code == 200, challenge.text
        from eth_account.messages import encode_defunct

        signed = dev_key(key_index).sign_message(encode_defunct(text=challenge.json()["message"]))
        return self.client.post(
            f"/v1/appeals/{case['id']}/proof",
            json={"signature": signed.signature.to_0x_hex()},
            headers=self.alice,
        )


@pytest.fixture
def desk(context: AppContext, auth: Any, clock: Clock, devnet: DevnetCluster) -> Iterator[Desk]:
    admin = auth("ops", Role.ADMIN)
    adapters = {n: devnet.adapter(n) for n in ("ethereum", "bsc")}
    with TestClient(create_app(context)) as client:
        response = client.post(
            "/v1/deposit-addresses",
            json={"address": DEPOSIT, "owner": "alice", "networks": ["ethereum"]},
            headers=admin,
        )
        assert response.status_code == 201, response.text
        yield Desk(
            client=client,
            alice=auth("alice"),
            rita=auth("rita", Role.REVIEWER),
            rob=auth("rob", Role.REVIEWER),
            checker=Checker(context.database, context.policy, adapters, clock),
            clock=clock,
            devnet=devnet,
        )
    for adapter in adapters.values():
        adapter.close()
