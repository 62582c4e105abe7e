"""`recovery demo`: the whole story on two local devnets, told through the REST API.

USDT-like tokens (6 decimals) sent over bsc (chain id 56) to an address opened for
ethereum (chain id 1); the user files an appeal, the chain facts are checked and
confirmed, a quote comes, the user accepts it and proves ownership, two reviewers
approve, the payout engine tops up gas and pays, and the refund address's balance on
chain is shown at the end.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from chains.devnet.cluster import DevnetCluster
from chains.devnet.node import free_port
from chains.signers.hd import HdSigner
from recovery.access.keys import Role, create_key
from recovery.api.app import create_app
from recovery.bootstrap import build_context
from recovery.catalogue.tokens import TokenDecimals
from recovery.payouts.engine import PayoutEngine
from recovery.scheduler import background, build_adapters, build_checker
from recovery.settings import DEVELOPMENT_MNEMONIC, Settings
from recovery.signing import build_signer

DEPOSIT_INDEX = 1000
SENDER_INDEX = 2  # anvil's third development account plays the user's own wallet
AMOUNT = 25_000 * 10**6  # 25,000 USDT-like units: above the two-reviewer threshold


class DemoFailed(Exception):
    """Raised when a step of the demo does not end as it should."""


def run(say: Callable[[str], None] = print, timeout: float = 90.0) -> int:
    """Run the story; return the refund address's token balance in base units."""
    with (
        tempfile.TemporaryDirectory(prefix="recovery-demo-") as workdir,
        DevnetCluster() as devnet,
    ):
        bsc = devnet.chain("bsc")
        say(
            f"devnets: ethereum (chain id 1) at {devnet.node('ethereum').url}, "
            f"bsc (chain id 56) at {devnet.node('bsc').url}"
        )
        usdt = bsc.deploy_token(symbol="USDT", name="Tether USD (devnet)", decimals=6)
        overlay = Path(workdir) / "demo-prices.yaml"
        overlay.write_text(f'prices:\n  by_token:\n    bsc:\n      "{usdt}": "1"\n')
        say(f"deployed a USDT-like token (6 decimals) on bsc at {usdt}, priced 1 USD")
        settings = Settings(
            database_url=f"sqlite:///{workdir}/demo.db",
            rpc={n: [u] for n, u in devnet.endpoints().items()},
            policy_overlays=["devnet", str(overlay)],
            mnemonic=DEVELOPMENT_MNEMONIC,
        )
        context = build_context(settings)
        adapters = build_adapters(settings, context.policy)
        context.token_decimals = TokenDecimals(adapters)
        context.adapters = adapters
        signer = build_signer(settings, context.policy, adapters)
        assert signer is not None
        context.gas_wallet = signer.gas_wallet_address
        for network in ("ethereum", "bsc"):
            devnet.chain(network).fund(signer.gas_wallet_address, 100 * 10**18)
        deposit = signer.register_deposit_index(DEPOSIT_INDEX)
        checker = build_checker(settings, context, adapters)
        payouts = PayoutEngine(context.database, context.policy, adapters, signer, context.clock)
        scheduler = background(checker, payouts=payouts)
        stop = threading.Event()
        # Transactions are mined as they arrive; an empty block a second adds confirmations.
        threading.Thread(target=_mine, args=(devnet, stop), daemon=True).start()
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(create_app(context), host="127.0.0.1", port=port, log_level="warning")
        )
        threading.Thread(target=server.run, daemon=True).start()
        try:
            _wait(lambda: _up(port), timeout, "the API to start")
            api = f"http://127.0.0.1:{port}"
            say(f"API at {api}")
            with context.database.unit_of_work() as session:
                keys = {
                    name: create_key(session, role=role, subject=name, now=datetime.now(UTC))
                    for name, role in (
                        ("ops", Role.ADMIN),
                        ("alice", Role.USER),
                        ("rita", Role.REVIEWER),
                        ("rob", Role.REVIEWER),
                    )
                }
            return _story(api, keys, bsc, usdt, deposit, say, timeout)
        finally:
            stop.set()
            scheduler.shutdown(wait=False)
            server.should_exit = True
            time.sleep(0.3)
            for adapter in adapters.values():
                adapter.close()


def _story(
    api: str,
    keys: dict[str, str],
    bsc: Any,
    usdt: str,
    deposit: str,
    say: Callable[[str], None],
    timeout: float,
) -> int:
    def call(
        who: str, method: str, path: str, extra: dict[str, str] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {keys[who]}", **(extra or {})}
        response = httpx.request(method, api + path, headers=headers, timeout=10, **kwargs)
        if response.status_code >= 400:
            raise DemoFailed(f"{method} {path} -> {response.status_code}: {response.text}")
        return response.json()  # type: ignore[no-any-return]

    sender = bsc.accounts[SENDER_INDEX]
    call(
        "ops",
        "POST",
        "/v1/deposit-addresses",
        json={
            "address": deposit,
            "owner": "alice",
            "networks": ["ethereum"],
            "hd_index": DEPOSIT_INDEX,
        },
    )
    say(f"1. the exchange opened deposit address {deposit} for alice on ethereum")
    tx = bsc.mis_sent_deposit(usdt, deposit, AMOUNT, sender=sender)
    say(f"2. alice sent 25,000 USDT over bsc to it by mistake: {tx}")
    appeal = {
        "case_type": "wrong_network",
        "network": "bsc",
        "opened_for": "ethereum",
        "tx_hash": tx,
        "token": usdt,
        "deposit_address": deposit,
        "refund_address": sender,
        "claimed_amount": str(AMOUNT),
    }
    preview = call("alice", "POST", "/v1/eligibility", json=appeal)
    quote = preview["quote"]
    say(
        f"3. preview: {preview['network_class']}, eligible={preview['eligible']}, "
        f"fee {quote['fee_amount']} units, net {quote['net_amount']} units"
    )
    case = call("alice", "POST", "/v1/appeals", json=appeal, extra={"Idempotency-Key": tx})
    path = f"/v1/appeals/{case['id']}"
    say(f"4. appeal filed: {case['reference']} ({case['status']})")
    case = _until(lambda: call("alice", "GET", path), "quoted", timeout)
    for event in call("alice", "GET", f"{path}/events")["items"]:
        say(f"   {event['from_status'] or '-'} -> {event['to_status']}: {event['detail']}")
    challenge = call("alice", "GET", f"{path}/challenge")
    # Alice's own wallet: anvil's development account number SENDER_INDEX.
    wallet = HdSigner(DEVELOPMENT_MNEMONIC, devnet_chain_ids=frozenset({1, 56}))
    signature = wallet.sign_message(wallet.address_of(SENDER_INDEX), challenge["message"])
    call("alice", "POST", f"{path}/proof", json={"signature": signature})
    say(f"5. alice proved ownership: {challenge['signer']} signed the challenge")
    quote_id = case["verdict"]["quote"]["id"]
    call("alice", "POST", f"{path}/accept", json={"quote_id": quote_id})
    say(f"6. alice accepted quote {quote_id}; the case is in review")
    queue = call("rita", "GET", "/v1/review/queue")["items"]
    say(f"7. the review queue holds {len(queue)} case(s)")
    for reviewer in ("rita", "rob"):
        call(reviewer, "POST", f"/v1/review/{case['id']}/claim")
        decided = call(reviewer, "POST", f"/v1/review/{case['id']}/approve")
        say(f"   {reviewer} approved -> {decided['status']}")
    paid = _until(lambda: call("alice", "GET", path), "paid", timeout)
    net = int(paid["verdict"]["quote"]["net_amount"])
    delivered = int(paid["delivered_amount"])
    for event in call("alice", "GET", f"{path}/events")["items"][-4:]:
        say(f"   {event['from_status']} -> {event['to_status']}: {event['detail']}")
    balance = int(bsc.token_balance(usdt, sender))
    say(
        f"8. refund address {sender} now holds {balance} units "
        f"({balance // 10**6:,}.{balance % 10**6:06d} USDT) on bsc; the approved net payout "
        f"was {net}, the chain shows delivered_amount {delivered}"
    )
    return balance


def _mine(devnet: DevnetCluster, stop: threading.Event) -> None:
    while not stop.wait(1.0):
        for network in ("ethereum", "bsc"):
            devnet.chain(network).mine(1)


def _up(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _wait(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise DemoFailed(f"timed out waiting for {what}")


def _until(read: Callable[[], dict[str, Any]], status: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    case = read()
    while case["status"] != status:
        if case["status"] in ("rejected", "cancelled", "payout_failed", "quarantined"):
            raise DemoFailed(f"case ended {case['status']}: {case}")
        if time.monotonic() > deadline:
            raise DemoFailed(f"case stuck in {case['status']}: {case.get('check_note')}")
        time.sleep(0.3)
        case = read()
    return case
