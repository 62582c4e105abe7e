"""A payout is never signed from, nor sent through, an endpoint that is not what the policy
says: after a failover to a node that is not anvil on a devnet-marked network, the payout
waits, the node's state says why, and it is paid once a right endpoint answers again."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chains.devnet import DevnetCluster
from chains.evm.endpoints import EndpointState
from recovery.api.context import AppContext
from recovery.scheduler import build_adapters
from recovery.settings import DEVELOPMENT_MNEMONIC, Settings
from recovery.signing import build_signer
from tests.chains.proxy import NodeProxy, serve_proxy
from tests.conftest import Clock
from tests.recovery.payouts.conftest import open_desk
from tests.recovery.payouts.test_payout_flow import approve, run_until_paid, transactions

pytestmark = pytest.mark.anvil

GETH = "Geth/v1.14.11-stable/linux-amd64/go1.23.2"


@pytest.fixture
def bsc_endpoints(devnet: DevnetCluster) -> Iterator[tuple[NodeProxy, NodeProxy]]:
    """Two endpoints of the bsc devnet node: the first may fail, the second names geth."""
    with (
        serve_proxy(devnet.node("bsc").url) as primary,
        serve_proxy(devnet.node("bsc").url) as geth_named,
    ):
        geth_named.client_version = GETH
        yield primary, geth_named


def test_after_failover_to_a_node_that_is_not_anvil_nothing_is_signed_or_sent(
    context: AppContext,
    auth: Any,
    clock: Clock,
    devnet: DevnetCluster,
    bsc_endpoints: tuple[NodeProxy, NodeProxy],
) -> None:
    primary, geth_named = bsc_endpoints
    settings = Settings(
        mnemonic=DEVELOPMENT_MNEMONIC,
        policy_overlays=["devnet"],
        rpc={"ethereum": [devnet.node("ethereum").url], "bsc": [primary.url, geth_named.url]},
        # Rests stay short in real time: the failed primary is tried again within 50 ms
        # however slow a loaded machine runs the cycles (a long rest left it unpaid).
        rpc_rest_seconds=0.01,
        rpc_max_rest_seconds=0.05,
    )
    adapters = build_adapters(settings, context.policy)
    signer = build_signer(settings, context.policy, adapters)  # the first endpoint is anvil
    assert signer is not None
    with open_desk(context, auth, clock, devnet, signer, adapters) as (desk, engine):
        case = desk.quoted_case(wei=10**17)
        approve(desk, case, sender_index=8)
        primary.failing = True

        for _ in range(3):
            engine.payout_cycle()
            clock.advance(seconds=10)
        waiting = desk.read(case)["status"]
        signed_meanwhile = transactions(context)
        node = adapters["bsc"].endpoint_report().endpoints[1]

        primary.failing = False
        run_until_paid(desk, engine, clock, "bsc")
        paid = desk.read(case)["status"]

    assert waiting in ("approved", "payout_pending")
    assert signed_meanwhile == []
    assert set(geth_named.methods) == {"web3_clientVersion", "eth_chainId"}
    assert node.state == EndpointState.REFUSED
    assert node.last_error is not None
    assert "marked devnet, but its node reports 'Geth/v1.14.11" in node.last_error
    assert paid == "paid"
