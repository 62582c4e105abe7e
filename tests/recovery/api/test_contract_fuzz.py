"""The contract says exactly what the service accepts: schemathesis, every check, each role.

Requests generated from the app's own OpenAPI document (the one `openapi.yaml` is) go to
the app over ASGI, with a user's, a reviewer's and an admin's key; every built-in check
runs on every response (status codes, response schemas, `Allow` on 405, schema-valid
requests accepted, schema-invalid ones refused, ...). Derandomized, so CI sees the same
requests every run.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import schemathesis
from eth_utils.address import to_checksum_address
from hypothesis import strategies as st
from schemathesis.engine import Status, events, from_schema

from recovery.access.keys import Role, create_key
from recovery.api.app import create_app
from recovery.api.context import AppContext
from recovery.appeals.contract import EVM_ADDRESS_FORMAT
from recovery.deposit_addresses.service import register
from recovery.settings import Settings
from tests.recovery.api.builders import DEPOSIT

CONFIG = """
seed = 20261123
[generation]
max-examples = 8
deterministic = true
"""

# The contract's EVM address format (0x and 40 hex digits whose mixed case is their EIP-55
# checksum) is more than its pattern says: schemathesis draws such addresses from here.
schemathesis.openapi.format(
    EVM_ADDRESS_FORMAT,
    st.tuples(
        st.binary(min_size=20, max_size=20), st.sampled_from(["lower", "upper", "eip55"])
    ).map(lambda drawn: _evm_address(*drawn)),
)


def _evm_address(raw: bytes, case: str) -> str:
    address = "0x" + raw.hex()
    if case == "upper":
        return "0x" + raw.hex().upper()
    return address if case == "lower" else str(to_checksum_address(address))


SUBJECTS = {Role.USER: "alice", Role.REVIEWER: "rita", Role.ADMIN: "ops"}


def run_schemathesis(context: AppContext, key: str) -> tuple[int, list[str]]:
    """Every phase (examples, coverage, fuzzing, stateful) and every check, over ASGI.

    Returns how many requests were generated and a line per failed check or error.
    """
    # The shipped body limit (not the tests' smaller one): long free text must fit. Rate
    # limits off: some 4,000 requests a minute on one key is the point of fuzzing, and the
    # limits have tests of their own (test_rate_limits.py).
    settings = Settings(
        database_url=str(context.database.engine.url),
        rate_limit_per_key=0,
        rate_limit_per_client=0,
        rate_limit_unauthenticated=0,
        rate_limit_filing=0,
    )
    app = create_app(
        AppContext(
            settings=settings, database=context.database, policy=context.policy, clock=context.clock
        )
    )
    config = schemathesis.Config.from_str(CONFIG)
    config.projects.default.update(headers={"Authorization": f"Bearer {key}"}, workers=1)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    generated = 0
    problems: list[str] = []
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            generated += len(event.recorder.cases)
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        failure = check.failure_info.failure
                        problems.append(f"{event.recorder.label}: {check.name}: {failure.title}")
        elif isinstance(event, events.NonFatalError | events.FatalError):
            problems.append(f"error: {event.info.format()}"[:2000])
    return generated, sorted(set(problems))


@pytest.mark.parametrize("role", [Role.USER, Role.REVIEWER, Role.ADMIN], ids=str)
def test_the_app_keeps_its_contract(context: AppContext, role: Role) -> None:
    now = datetime.now(UTC)
    with context.database.unit_of_work() as session:
        register(
            session,
            context.policy,
            address=DEPOSIT,
            owner="alice",
            networks=["ethereum"],
            actor="admin:ops",
            now=now,
        )
        key = create_key(session, role=role, subject=SUBJECTS[role], now=now)
    generated, problems = run_schemathesis(context, key)
    print(f"schemathesis as {role}: {generated} requests, {len(problems)} failures")
    assert generated > 300
    assert problems == [], "\n".join(problems)
