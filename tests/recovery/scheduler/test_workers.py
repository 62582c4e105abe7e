"""Real `recovery worker` processes: three share one PostgreSQL; SQLite refuses a second."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from chains.devnet import DevnetCluster
from recovery.appeals.repository import CaseRepository
from recovery.db.engine import Database, make_engine
from recovery.db.migrate import upgrade
from recovery.db.tables import CaseEventRow, CaseRow, QuoteRow
from recovery.domain.case import NATIVE, Case, CaseType
from recovery.domain.states import CaseStatus
from recovery.scheduler import SecondProcess, hold_sqlite_lock
from recovery.settings import Settings
from tests.conftest import postgres_url
from tests.recovery.verification.builders import REFUND

RECOVERY = str(Path(sys.executable).with_name("recovery"))
CASES = 500


@pytest.fixture
def schema() -> Iterator[tuple[str, Engine]]:
    """A fresh, migrated PostgreSQL schema and a URL that puts the workers in it."""
    url = postgres_url()
    if not url:
        pytest.skip("RECOVERY_TEST_DATABASE_URL not set")
    name = f"recovery_workers_{uuid.uuid4().hex[:10]}"
    admin = make_engine(Settings(database_url=url).database_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{name}"'))
    engine = make_engine(
        Settings(database_url=url).database_url,
        connect_args={"options": f"-csearch_path={name}"},
    )
    upgrade(engine)
    # psycopg takes libpq's `options` from the URL: every worker connection uses the schema.
    yield f"{url}?options=-csearch_path%3D{name}", engine
    engine.dispose()
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
    admin.dispose()


def _file_claims(database: Database, devnet: DevnetCluster) -> None:
    """CASES native deposits mined on bsc, each to its own deposit address, each claimed."""
    bsc = devnet.chain("bsc")
    sender = bsc.accounts[8]
    deposits = [f"0x{0xD0000 + i:040x}" for i in range(CASES)]
    bsc.set_automine(False)
    try:
        hashes = bsc.send_many(
            [{"from": sender, "to": d, "value": hex(10**17), "gas": hex(21_000)} for d in deposits]
        )
        bsc.mine(1)
        bsc.wait_mined(hashes)
    finally:
        bsc.set_automine(True)
    bsc.mine(1)  # the deposits have the 2 confirmations the devnet asks for
    now = datetime.now(UTC)
    with database.unit_of_work() as session:
        repository = CaseRepository(session)
        for deposit, tx_hash in zip(deposits, hashes, strict=True):
            case = Case(
                id=str(uuid.uuid4()),
                claimant="alice",
                case_type=CaseType.WRONG_NETWORK,
                network="bsc",
                opened_for="ethereum",
                tx_hash=tx_hash,
                token=NATIVE,
                deposit_address=deposit,
                refund_address=REFUND,
                claimed_amount=None,
                status=CaseStatus.SUBMITTED,
                created_at=now,
                updated_at=now,
            )
            case.open(actor="user:alice", at=now)
            repository.add(case)


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [RECOVERY, "worker"], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent
        )


@pytest.mark.postgres
def test_three_workers_move_every_case_exactly_once_even_when_one_is_killed(
    schema: tuple[str, Engine], devnet: DevnetCluster, tmp_path: Path
) -> None:
    url, engine = schema
    database = Database(engine)
    _file_claims(database, devnet)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RECOVERY_")},
        "RECOVERY_DATABASE_URL": url,
        "RECOVERY_RPC__BSC": devnet.node("bsc").url,
        "RECOVERY_POLICY_OVERLAYS": "devnet",
        "RECOVERY_LEASE_SECONDS": "3",
        "RECOVERY_CHECK_BATCH_SIZE": "40",
    }
    workers = [_start_worker(env, tmp_path / f"worker-{i}.log") for i in range(3)]
    victim = workers[0]
    try:
        # Kill the first worker while it holds claimed cases it has not finished.
        held_at_kill = 0
        deadline = time.monotonic() + 60
        while held_at_kill == 0:
            assert time.monotonic() < deadline, (tmp_path / "worker-0.log").read_text()
            with engine.connect() as connection:
                held_at_kill = connection.scalar(
                    select(func.count())
                    .select_from(CaseRow)
                    .where(
                        CaseRow.lease_owner.like(f"%:{victim.pid}:%"),
                        CaseRow.status != CaseStatus.QUOTED.value,
                    )
                )
            if held_at_kill == 0:
                time.sleep(0.01)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)

        # Every case quoted, and every lease the victim held lapsed and taken over: a
        # quoted case stays watched for reorgs, so a survivor claims it at its next look
        # (the victim may have held one at the kill, after all the others were quoted).
        deadline = time.monotonic() + 90
        while True:
            with engine.connect() as connection:
                quoted = connection.scalar(
                    select(func.count()).where(CaseRow.status == CaseStatus.QUOTED.value)
                )
                still_held = connection.scalar(
                    select(func.count()).where(CaseRow.lease_owner.like(f"%:{victim.pid}:%"))
                )
            if quoted == CASES and still_held == 0:
                break
            logs = (tmp_path / "worker-1.log").read_text()[-3000:]
            # The chain goes on producing blocks, as a real one does: a case never waits
            # on a block this test forgot to mine (once in a full run, 20 stayed at one
            # confirmation until the deadline).
            devnet.chain("bsc").mine(1)
            assert time.monotonic() < deadline, (
                f"{quoted} of {CASES} quoted, {still_held} still leased to the killed worker\n"
                f"{logs}"
            )
            time.sleep(0.2)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()

    assert held_at_kill > 0
    with engine.connect() as connection:
        histories: dict[str, list[tuple[int, str]]] = {}
        for case_id, seq, to_status in connection.execute(
            select(CaseEventRow.case_id, CaseEventRow.seq, CaseEventRow.to_status).order_by(
                CaseEventRow.case_id, CaseEventRow.seq
            )
        ):
            histories.setdefault(case_id, []).append((seq, to_status))
        quotes = dict(
            connection.execute(
                select(QuoteRow.case_id, func.count()).group_by(QuoteRow.case_id)
            ).all()
        )
        leftover = connection.scalar(
            select(func.count()).where(CaseRow.lease_owner.like(f"%:{victim.pid}:%"))
        )
    expected = [(1, "submitted"), (2, "verifying"), (3, "confirming"), (4, "quoted")]
    assert len(histories) == CASES
    wrong = {case_id: h for case_id, h in histories.items() if h != expected}
    assert not wrong, f"{len(wrong)} cases with other histories, e.g. {next(iter(wrong.items()))}"
    assert sorted(set(quotes.values())) == [1]
    assert len(quotes) == CASES
    assert leftover == 0, "the killed worker's leases lapsed and were taken over"
    survivors = "".join((tmp_path / f"worker-{i}.log").read_text() for i in (1, 2))
    assert "Traceback" not in survivors


def test_a_second_process_on_one_sqlite_file_refuses_to_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'recovery.db'}"
    held = hold_sqlite_lock(url)
    assert held is not None
    try:
        with pytest.raises(SecondProcess, match="single-process"):
            hold_sqlite_lock(url)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("RECOVERY_")},
            "RECOVERY_DATABASE_URL": url,
        }
        second = subprocess.run(
            [RECOVERY, "worker"], env=env, capture_output=True, text=True, timeout=60
        )
        assert second.returncode == 2
        assert f"pid {os.getpid()}" in second.stderr
        assert "SQLite is single-process" in second.stderr
    finally:
        held.close()
    again = hold_sqlite_lock(url)  # free once the holder is gone
    assert again is not None
    again.close()
    assert hold_sqlite_lock("sqlite://") is None
