"""POST /v1/triage: a description read into a draft, completed from the devnets."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from chains.devnet import DevnetCluster
from recovery.api.app import create_app
from recovery.api.context import AppContext
from tests.recovery.api.builders import DEPOSIT


def test_a_description_with_a_hash_is_completed_from_the_network_it_is_really_on(
    context: AppContext, auth: Any, devnet: DevnetCluster
) -> None:
    bsc = devnet.chain("bsc")
    usdt = bsc.deploy_token(symbol="USDT", decimals=6)
    sender = bsc.accounts[4]
    tx = bsc.mis_sent_deposit(usdt, DEPOSIT, 500_000_000, sender=sender)
    context.adapters = {n: devnet.adapter(n) for n in ("ethereum", "bsc")}
    # The user names the wrong one of the two: the chain says where it really went.
    text = f"Envié 500 USDT por la red ERC20 a mi dirección BEP20 {DEPOSIT}. Hash: «{tx}»"
    with TestClient(create_app(context)) as client:
        response = client.post("/v1/triage", json={"text": text}, headers=auth("alice"))
    assert response.status_code == 200, response.text
    draft = response.json()
    assert draft["language"] == "es"
    fields = {name: f["value"] for name, f in draft["fields"].items()}
    assert fields["network"] == "bsc"
    assert draft["fields"]["network"]["confidence"] == 1.0
    assert "found on bsc" in draft["fields"]["network"]["evidence"]
    assert (fields["tx_hash"], fields["address"], fields["token"]) == (tx, DEPOSIT, "USDT")
    assert draft["chain"]["sender"] == sender
    assert draft["chain"]["amount_base_units"] == "500000000"
    assert draft["appeal"]["token"] == usdt
    assert draft["appeal"]["refund_address"] == sender
    assert any("the transaction is on bsc" in note for note in draft["notes"])
    for adapter in context.adapters.values():
        adapter.close()


def test_a_description_without_a_hash_lists_what_is_missing(context: AppContext, auth: Any) -> None:
    with TestClient(create_app(context)) as client:
        response = client.post(
            "/v1/triage",
            json={"text": "I sent 20 usdt via bep20 to my erc20 address"},
            headers=auth("alice"),
        )
        unsigned = client.post("/v1/triage", json={"text": "hello"})
        empty = client.post("/v1/triage", json={"text": ""}, headers=auth("alice"))
    assert response.status_code == 200, response.text
    draft = response.json()
    fields = {name: f["value"] for name, f in draft["fields"].items()}
    assert fields == {
        "network": "bsc",
        "opened_for": "ethereum",
        "case_type": "wrong_network",
        "token": "USDT",
        "amount": "20",
    }
    assert draft["missing"] == ["tx_hash", "address"]
    assert draft["chain"] is None
    assert draft["preview"]["network_class"] == "direct"
    assert unsigned.status_code == 401
    assert empty.status_code == 422
