"""A desk whose deposit address has a key in the service's HD wallet, and a payout engine."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from chains.devnet import DevnetCluster
from chains.signers.hd import HdSigner
from recovery.access.keys import Role
from recovery.api.app import create_app
from recovery.api.context import AppContext
from recovery.payouts.engine import PayoutEngine
from recovery.verification.service import Checker
from tests.conftest import Clock
from tests.recovery.review.conftest import DEV_MNEMONIC, Desk

HD_INDEX = 100


@pytest.fixture
def signer() -> HdSigner:
    return HdSigner(DEV_MNEMONIC, devnet_chain_ids=frozenset({1, 56}))


@pytest.fixture
def paying_desk(
    context: AppContext, auth: Any, clock: Clock, devnet: DevnetCluster, signer: HdSigner
) -> Iterator[tuple[Desk, PayoutEngine]]:
    """Alice's deposit address is HD index 100; the gas wallet holds 100 coins on both chains."""
    deposit = signer.register_deposit_index(HD_INDEX)
    for network in ("ethereum", "bsc"):
        devnet.chain(network).fund(signer.gas_wallet_address, 100 * 10**18)
    admin = auth("ops", Role.ADMIN)
    adapters = {n: devnet.adapter(n) for n in ("ethereum", "bsc")}
    with TestClient(create_app(context)) as client:
        response = client.post(
            "/v1/deposit-addresses",
            json={
                "address": deposit,
                "owner": "alice",
                "networks": ["ethereum"],
                "hd_index": HD_INDEX,
            },
            headers=admin,
        )
        assert response.status_code == 201, response.text
        desk = Desk(
            client=client,
            alice=auth("alice"),
            rita=auth("rita", Role.REVIEWER),
            rob=auth("rob", Role.REVIEWER),
            checker=Checker(context.database, context.policy, adapters, clock),
            clock=clock,
            devnet=devnet,
            deposit=deposit,
        )
        engine = PayoutEngine(context.database, context.policy, adapters, signer, clock)
        yield desk, engine
    for adapter in adapters.values():
        adapter.close()
