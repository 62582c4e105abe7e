"""Mis-sent deposits found on the devnets before anyone appeals, claimed with one call."""

from __future__ import annotations

import threading
from typing import Any

from eth_account.messages import encode_defunct
from sqlalchemy import func, select, update
from sqlmodel import col

from recovery.db.tables import DiscoveryCheckpointRow, FoundDepositRow
from recovery.metrics import JobMetrics
from tests.recovery.discovery.conftest import Finder
from tests.recovery.payouts.test_payout_flow import run_until_paid
from tests.recovery.review.conftest import dev_key

SENDER = 6


def _claim(finder: Finder, found: dict[str, Any], *, prove: bool = True) -> Any:
    desk = finder.desk
    refund = found["sender"]
    body: dict[str, Any] = {"refund_address": refund}
    if prove:
        challenge = desk.client.get(
            f"/v1/found-deposits/{found['id']}/challenge",
            params={"refund_address": refund},
            headers=desk.alice,
        )
        assert challenge.status_code == 200, challenge.text
        assert challenge.json()["signer"] == found["sender"]
        signed = dev_key(SENDER).sign_message(encode_defunct(text=challenge.json()["message"]))
        body["signature"] = signed.signature.to_0x_hex()
    return desk.client.post(
        f"/v1/found-deposits/{found['id']}/claim", json=body, headers=desk.alice
    )


def _to_quoted(finder: Finder, case: dict[str, Any], network: str) -> dict[str, Any]:
    desk = finder.desk
    desk.checker.verify_cycle()
    desk.devnet.chain(network).mine(2)
    desk.clock.advance(seconds=2)
    desk.checker.confirm_cycle()
    quoted = desk.read(case)
    assert quoted["status"] == "quoted", quoted
    return quoted


def test_a_wrong_network_token_is_found_claimed_with_one_call_and_paid(finder: Finder) -> None:
    desk = finder.desk
    bsc = desk.devnet.chain("bsc")
    usdt = bsc.deploy_token(symbol="USDT", name="Tether USD", decimals=6)
    sender = bsc.accounts[SENDER]
    bsc.fund(sender, 10**20)
    tx = bsc.mis_sent_deposit(usdt, desk.deposit, 250_000_000, sender=sender)

    reports = finder.scan()

    assert reports["bsc"].found == {"wrong_network": 1}
    (found,) = finder.found()
    assert (found["kind"], found["network"], found["opened_for"]) == (
        "wrong_network",
        "bsc",
        "ethereum",
    )
    assert (found["tx_hash"], found["token"], found["amount"]) == (tx, usdt, "250000000")
    assert (found["symbol"], found["decimals"], found["amount_decimal"]) == ("USDT", 6, "250")
    assert found["status"] == "open"
    quote = found["verdict"]["quote"]
    assert int(quote["net_amount"]) + int(quote["fee_amount"]) == 250_000_000

    claimed = _claim(finder, found)
    assert claimed.status_code == 201, claimed.text
    case = claimed.json()
    assert (case["tx_hash"], case["log_indexes"], case["ownership_proven"]) == (
        tx,
        [found["log_index"]],
        True,
    )
    assert finder.found()[0]["status"] == "claimed"
    assert finder.found()[0]["case_id"] == case["id"]

    quoted = _to_quoted(finder, case, "bsc")
    assert quoted["facts"]["amount"] == "250000000"
    desk.accept(quoted)
    for reviewer in (desk.rita, desk.rob):
        response = desk.client.post(f"/v1/review/{case['id']}/approve", headers=reviewer)
        assert response.status_code == 200, response.text
        if response.json()["status"] == "approved":
            break
    before = bsc.token_balance(usdt, sender)
    run_until_paid(desk, finder.engine, desk.clock, "bsc")

    paid = desk.read(case)
    assert paid["status"] == "paid"
    arrived = bsc.token_balance(usdt, sender) - before
    assert arrived == int(quote["net_amount"]) == int(paid["delivered_amount"])
    # One transfer, one case: a second claim is refused, and so is a hand-filed appeal.
    again = _claim(finder, found, prove=False)
    assert again.status_code == 409, again.text


def test_an_unlisted_token_and_native_coin_over_the_wrong_network_are_found(
    finder: Finder,
) -> None:
    desk = finder.desk
    ethereum, bsc = desk.devnet.chain("ethereum"), desk.devnet.chain("bsc")
    odd = ethereum.deploy_token(symbol="ODD", name="Odd", decimals=18)
    sender = ethereum.accounts[SENDER]
    unlisted = ethereum.mis_sent_deposit(odd, desk.deposit, 3 * 10**18, sender=sender)
    native = bsc.send(bsc.accounts[SENDER], to=desk.deposit, value=2 * 10**18)

    finder.scan()

    by_tx = {f["tx_hash"]: f for f in finder.found()}
    assert set(by_tx) == {unlisted, native}
    assert (by_tx[unlisted]["kind"], by_tx[unlisted]["network"]) == ("unlisted_token", "ethereum")
    assert by_tx[unlisted]["opened_for"] is None
    assert (by_tx[native]["kind"], by_tx[native]["token"]) == ("wrong_network", "native")
    assert (by_tx[native]["log_index"], by_tx[native]["amount"]) == (-1, str(2 * 10**18))

    claimed = _claim(finder, by_tx[unlisted], prove=False)
    assert claimed.status_code == 201, claimed.text
    quoted = _to_quoted(finder, claimed.json(), "ethereum")
    assert quoted["case_type"] == "unlisted_token"
    assert quoted["facts"]["token"] == odd


def test_a_listed_asset_on_its_own_network_is_never_found(finder: Finder) -> None:
    desk = finder.desk
    ethereum = desk.devnet.chain("ethereum")
    listed = finder.context.policy.networks["ethereum"].listed_assets[0].address
    assert listed is not None
    # The listed token's address on the devnet, running a test token's code.
    token = ethereum.deploy_token(symbol="USDT", decimals=6)
    ethereum.rpc("anvil_setCode", listed, ethereum.rpc("eth_getCode", token, "latest"))
    ethereum.mint(listed, desk.deposit, 500_000_000)
    ethereum.send(ethereum.accounts[SENDER], to=desk.deposit, value=10**18)
    # The control: an unlisted token in the same blocks is found.
    odd = ethereum.deploy_token(symbol="ODD", decimals=18)
    unlisted = ethereum.mis_sent_deposit(odd, desk.deposit, 10**20, sender=ethereum.accounts[1])

    reports = finder.scan()

    assert reports["ethereum"].found == {"unlisted_token": 1}
    assert [(f["tx_hash"], f["token"]) for f in finder.found()] == [(unlisted, odd)]


def test_a_token_minted_to_a_deposit_address_is_recorded_but_not_offered(
    finder: Finder,
) -> None:
    desk = finder.desk
    ethereum = desk.devnet.chain("ethereum")
    airdrop = ethereum.deploy_token(symbol="FREE", decimals=18)
    minted = ethereum.mint(airdrop, desk.deposit, 10**24)

    finder.scan()

    assert finder.found() == []
    (staff,) = finder.found(headers=desk.rob, owner="alice", status="refused")
    assert (staff["tx_hash"], staff["sender"]) == (minted, "0x" + "0" * 40)


def test_a_reorg_withdraws_a_found_deposit(finder: Finder) -> None:
    desk = finder.desk
    ethereum = desk.devnet.chain("ethereum")
    odd = ethereum.deploy_token(symbol="ODD", decimals=18)
    ethereum.mis_sent_deposit(odd, desk.deposit, 10**20, sender=ethereum.accounts[SENDER])
    scanner = finder.scanner()
    finder.scan(scanner)
    assert [f["status"] for f in finder.found()] == ["open"]

    ethereum.reorg(3)
    reports = finder.scan(scanner)

    assert reports["ethereum"].withdrawn == 1
    assert finder.found() == []
    staff = finder.found(headers=desk.rob, owner="alice", status="withdrawn")
    assert len(staff) == 1
    claim = _claim(finder, staff[0], prove=False)
    assert claim.status_code == 409
    assert "reorged out" in claim.json()["detail"]


def test_a_restart_resumes_from_the_checkpoint_without_missing_or_repeating(
    finder: Finder,
) -> None:
    desk = finder.desk
    ethereum = desk.devnet.chain("ethereum")
    odd = ethereum.deploy_token(symbol="ODD", decimals=18)
    sender = ethereum.accounts[SENDER]
    first = ethereum.mis_sent_deposit(odd, desk.deposit, 10**20, sender=sender)
    before = finder.scan(finder.scanner())["ethereum"]
    # While no process runs, two more arrive; a new process picks up where the last stopped.
    later = [
        ethereum.mis_sent_deposit(odd, desk.deposit, 10**20 + i, sender=sender) for i in (1, 2)
    ]
    reports = finder.scan(finder.scanner())
    assert reports["ethereum"].found == {"unlisted_token": 2}
    assert before.last is not None
    assert reports["ethereum"].first == before.last + 1
    # A process that died holding the lease while blocks were unread: nobody reads the
    # network until the lease lapses; then another process reads them, once.
    last = ethereum.mis_sent_deposit(odd, desk.deposit, 10**20 + 3, sender=sender)
    crashed = finder.scanner()
    assert crashed._lease("ethereum", desk.clock()) is not None
    assert finder.scan()["ethereum"].first is None
    desk.clock.advance(seconds=120)
    taken_over = finder.scan()["ethereum"]
    assert taken_over.found == {"unlisted_token": 1}
    later.append(last)

    assert sorted(f["tx_hash"] for f in finder.found()) == sorted([first, *later])
    with finder.context.database.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(FoundDepositRow)) == 4


def test_a_rescan_of_the_same_range_stores_nothing_twice(finder: Finder) -> None:
    desk = finder.desk
    ethereum = desk.devnet.chain("ethereum")
    odd = ethereum.deploy_token(symbol="ODD", decimals=18)
    ethereum.mis_sent_deposit(odd, desk.deposit, 10**20, sender=ethereum.accounts[SENDER])
    finder.scan()
    # Back to the start: the same blocks read again (as after a reorg's rewind).
    with finder.context.database.unit_of_work() as session:
        session.execute(
            update(DiscoveryCheckpointRow)
            .where(col(DiscoveryCheckpointRow.network) == "ethereum")
            .values(next_block=finder.starts["ethereum"], last_hash=None)
        )
    reports = finder.scan()
    assert reports["ethereum"].first == finder.starts["ethereum"]
    assert reports["ethereum"].found == {}
    assert len(finder.found()) == 1


def test_an_appeal_filed_by_hand_and_its_found_deposit_are_one_case(finder: Finder) -> None:
    desk = finder.desk
    ethereum = desk.devnet.chain("ethereum")
    odd = ethereum.deploy_token(symbol="ODD", decimals=18)
    sender = ethereum.accounts[SENDER]
    tx = ethereum.mis_sent_deposit(odd, desk.deposit, 4 * 10**18, sender=sender)
    filed = desk.client.post(
        "/v1/appeals",
        json={
            "case_type": "unlisted_token",
            "network": "ethereum",
            "tx_hash": tx,
            "token": odd,
            "deposit_address": desk.deposit,
            "refund_address": sender,
        },
        headers=desk.alice,
    )
    assert filed.status_code == 201, filed.text

    finder.scan()

    (found,) = finder.found()
    assert (found["status"], found["case_id"]) == ("claimed", filed.json()["id"])
    claim = _claim(finder, found, prove=False)
    assert claim.status_code == 409
    assert filed.json()["id"] in claim.json()["detail"]


def test_dust_is_recorded_but_not_offered(finder: Finder) -> None:
    desk = finder.desk
    bsc = desk.devnet.chain("bsc")
    bsc.send(bsc.accounts[SENDER], to=desk.deposit, value=1000)  # 1000 wei of BNB

    finder.scan()

    assert finder.found() == []
    staff = finder.found(headers=desk.rob, owner="alice", status="dust")
    assert [f["amount"] for f in staff] == ["1000"]
    assert "below_minimum_value" in staff[0]["verdict"]["reason_codes"]
    refused = _claim(finder, staff[0], prove=False)
    assert refused.status_code == 409
    assert "minimum" in refused.json()["detail"]


def test_users_see_only_their_own_found_deposits(finder: Finder, auth: Any) -> None:
    desk = finder.desk
    bsc = desk.devnet.chain("bsc")
    bsc.send(bsc.accounts[SENDER], to=desk.deposit, value=2 * 10**18)
    finder.scan()
    (found,) = finder.found()

    mallory = auth("mallory")
    assert finder.found(headers=mallory) == []
    response = desk.client.get(f"/v1/found-deposits/{found['id']}", headers=mallory)
    assert response.status_code == 404
    stolen = desk.client.post(
        f"/v1/found-deposits/{found['id']}/claim",
        json={"refund_address": bsc.accounts[1]},
        headers=mallory,
    )
    assert stolen.status_code == 404
    other = desk.client.get("/v1/found-deposits", params={"owner": "alice"}, headers=mallory)
    assert other.status_code == 403


def test_the_scan_reports_lag_and_calls_per_block_in_metrics(finder: Finder) -> None:
    metrics = JobMetrics()
    bsc = finder.desk.devnet.chain("bsc")
    bsc.send(bsc.accounts[SENDER], to=finder.desk.deposit, value=2 * 10**18)
    reports = finder.scan()
    for network, report in reports.items():
        metrics.record_discovery(network, report)

    assert metrics.found.labels("bsc", "wrong_network")._value.get() == 1
    assert metrics.scan_lag.labels("bsc")._value.get() == 0
    per_block = metrics.scan_calls.labels("bsc")._value.get()
    assert 0 < per_block <= reports["bsc"].requests


def test_two_processes_scanning_at_once_store_each_find_once(finder: Finder) -> None:
    desk = finder.desk
    ethereum = desk.devnet.chain("ethereum")
    odd = ethereum.deploy_token(symbol="ODD", decimals=18)
    sender = ethereum.accounts[SENDER]
    sent = [
        ethereum.mis_sent_deposit(odd, desk.deposit, 10**20 + i, sender=sender) for i in range(3)
    ]
    scanners = [finder.scanner(max_range=2), finder.scanner(max_range=2)]
    held = scanners[0]._lease("ethereum", desk.clock())
    assert held is not None
    # While one holds the network's checkpoint, the other leaves it alone.
    assert scanners[1].discover_cycle("ethereum").first is None
    scanners[0]._release("ethereum", None, None)

    def run(scanner: Any) -> None:
        # Until a cycle finds nothing left to read (a cycle that met the other's lease
        # read nothing and knows no head).
        for _ in range(200):
            report = scanner.discover_cycle("ethereum")
            if report.head is not None and report.first is None:
                return

    threads = [threading.Thread(target=run, args=(s,)) for s in scanners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
        assert not thread.is_alive()

    assert sorted(f["tx_hash"] for f in finder.found()) == sorted(sent)


def test_a_find_that_its_owner_then_files_by_hand_shows_that_case(finder: Finder) -> None:
    desk = finder.desk
    bsc = desk.devnet.chain("bsc")
    sender = bsc.accounts[SENDER]
    tx = bsc.send(sender, to=desk.deposit, value=2 * 10**18)
    finder.scan()
    assert [f["status"] for f in finder.found()] == ["open"]

    filed = desk.client.post(
        "/v1/appeals",
        json={
            "case_type": "wrong_network",
            "network": "bsc",
            "opened_for": "ethereum",
            "tx_hash": tx,
            "token": "native",
            "deposit_address": desk.deposit,
            "refund_address": sender,
        },
        headers=desk.alice,
    )
    assert filed.status_code == 201, filed.text

    (found,) = finder.found()
    assert (found["status"], found["case_id"]) == ("claimed", filed.json()["id"])
    assert _claim(finder, found, prove=False).status_code == 409


def test_a_chain_shorter_than_the_checkpoint_is_read_again_from_its_head(finder: Finder) -> None:
    desk = finder.desk
    ethereum = desk.devnet.chain("ethereum")
    finder.scan()
    # As after a devnet started afresh under a kept database: the checkpoint is far
    # above the head.
    with finder.context.database.unit_of_work() as session:
        session.execute(
            update(DiscoveryCheckpointRow)
            .where(col(DiscoveryCheckpointRow.network) == "ethereum")
            .values(next_block=ethereum.head() + 500, last_hash="0x" + "ab" * 32)
        )
    odd = ethereum.deploy_token(symbol="ODD", decimals=18)
    tx = ethereum.mis_sent_deposit(odd, desk.deposit, 10**20, sender=ethereum.accounts[SENDER])

    report = finder.scan()["ethereum"]

    assert report.first is not None
    assert report.first <= ethereum.head() - 2
    assert report.last == ethereum.head()
    assert tx in [f["tx_hash"] for f in finder.found()]


def test_a_claim_with_a_signature_that_proves_nothing_is_refused(finder: Finder) -> None:
    desk = finder.desk
    bsc = desk.devnet.chain("bsc")
    sender = bsc.accounts[SENDER]
    bsc.send(sender, to=desk.deposit, value=2 * 10**18)
    finder.scan()
    (found,) = finder.found()

    def signed(key_index: int, refund: str) -> str:
        challenge = desk.client.get(
            f"/v1/found-deposits/{found['id']}/challenge",
            params={"refund_address": refund},
            headers=desk.alice,
        ).json()["message"]
        signature = dev_key(key_index).sign_message(encode_defunct(text=challenge))
        return str(signature.signature.to_0x_hex())

    other = bsc.accounts[2]
    for refund, signature in (
        (sender, signed(2, sender)),  # another wallet signed
        (other, signed(SENDER, sender)),  # signed for a refund to the sender, not to `other`
        (sender, "0x1234"),
    ):
        response = desk.client.post(
            f"/v1/found-deposits/{found['id']}/claim",
            json={"refund_address": refund, "signature": signature},
            headers=desk.alice,
        )
        assert response.status_code == 422, response.text
    assert finder.found()[0]["status"] == "open"


def test_a_proof_against_a_sender_the_chain_does_not_confirm_is_dropped(finder: Finder) -> None:
    desk = finder.desk
    bsc = desk.devnet.chain("bsc")
    bsc.send(bsc.accounts[SENDER], to=desk.deposit, value=2 * 10**18)
    finder.scan()
    # As if the scan had read another sender (a node that answered wrongly): the claim's
    # proof names that one, and verification, reading the chain, drops it.
    impostor = bsc.accounts[2]
    with finder.context.database.unit_of_work() as session:
        session.execute(update(FoundDepositRow).values(sender=impostor))
    (found,) = finder.found()
    challenge = desk.client.get(
        f"/v1/found-deposits/{found['id']}/challenge",
        params={"refund_address": impostor},
        headers=desk.alice,
    ).json()["message"]
    signature = dev_key(2).sign_message(encode_defunct(text=challenge)).signature.to_0x_hex()
    claimed = desk.client.post(
        f"/v1/found-deposits/{found['id']}/claim",
        json={"refund_address": impostor, "signature": signature},
        headers=desk.alice,
    )
    assert claimed.status_code == 201, claimed.text
    assert claimed.json()["ownership_proven"] is True

    desk.checker.verify_cycle()

    case = desk.read(claimed.json())
    assert case["facts"]["sender"] == bsc.accounts[SENDER]
    assert case["ownership_proven"] is False
