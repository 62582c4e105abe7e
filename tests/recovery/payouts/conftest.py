"""A desk whose deposit address has a key in the service's HD wallet, and a payout engine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from chains.devnet import DevnetChain, DevnetCluster
from chains.evm import EvmAdapter
from chains.signers.hd import HdSigner
from recovery.access.keys import Role
from recovery.api.app import create_app
from recovery.api.context import AppContext
from recovery.db.tables import PayoutRow
from recovery.domain.case import NATIVE
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
    adapters = {n: devnet.adapter(n) for n in ("ethereum", "bsc")}
    with open_desk(context, auth, clock, devnet, signer, adapters) as opened:
        yield opened


@contextmanager
def open_desk(
    context: AppContext,
    auth: Any,
    clock: Clock,
    devnet: DevnetCluster,
    signer: HdSigner,
    adapters: dict[str, EvmAdapter],
) -> Iterator[tuple[Desk, PayoutEngine]]:
    """The paying desk over the given adapters (closed at the end)."""
    deposit = signer.register_deposit_index(HD_INDEX)
    for network in ("ethereum", "bsc"):
        devnet.chain(network).fund(signer.gas_wallet_address, 100 * 10**18)
    admin = auth("ops", Role.ADMIN)
    context.adapters = adapters
    context.gas_wallet = signer.gas_wallet_address
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


def mined_payouts(chain: DevnetChain, first_block: int, payout: PayoutRow) -> list[str]:
    """Hashes of successful transactions in blocks >= `first_block` that pay `payout` out.

    Counted on chain, not in the database: a transaction from the payout's source that
    sends its asset to its destination (native value, or a token `transfer` call).
    """
    selector = "0xa9059cbb"
    destination = payout.destination.lower()
    found = []
    for number in range(first_block, chain.head() + 1):
        block = chain.rpc("eth_getBlockByNumber", hex(number), True)
        for tx in block["transactions"]:
            if str(tx["from"]).lower() != payout.source.lower():
                continue
            to = str(tx.get("to") or "").lower()
            data = str(tx.get("input") or "0x")
            if payout.token == NATIVE:
                paying = to == destination and int(tx["value"], 16) > 0
            else:
                paying = (
                    to == payout.token.lower()
                    and data.startswith(selector)
                    and data[34:74].lower() == destination[2:]
                )
            if paying and int(chain.receipt(str(tx["hash"]))["status"], 16) == 1:
                found.append(str(tx["hash"]))
    return found


@pytest.fixture(autouse=True)
def at_most_one_payout_per_case(
    request: pytest.FixtureRequest, context: AppContext
) -> Iterator[None]:
    """After every payout test: no case has more than one payout transaction mined on chain."""
    devnet: DevnetCluster = request.getfixturevalue("devnet")
    start = {n: devnet.chain(n).head() + 1 for n in ("ethereum", "bsc")}
    yield
    with context.database.unit_of_work() as session:
        payouts = list(session.scalars(select(PayoutRow)))
        for payout in payouts:
            session.expunge(payout)
    for payout in payouts:
        mined = mined_payouts(devnet.chain(payout.network), start[payout.network], payout)
        assert len(mined) <= 1, f"case {payout.case_id} was paid {len(mined)} times: {mined}"


@contextmanager
def mining_held(chain: DevnetChain) -> Iterator[None]:
    """Transactions wait in the node's pool until the block returns (automine off)."""
    chain.set_automine(False)
    try:
        yield
    finally:
        chain.set_automine(True)
