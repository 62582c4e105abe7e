"""Console sign-in: reviewer and admin keys only, CSRF on every form, sessions that end."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from recovery.access.keys import Role, revoke_key
from recovery.api.app import create_app
from recovery.api.context import AppContext
from tests.conftest import Clock, KeyMaker


@pytest.fixture
def browser(context: AppContext) -> Iterator[TestClient]:
    with TestClient(create_app(context), follow_redirects=False) as client:
        yield client


def _key(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def sign_in(client: TestClient, key: str) -> tuple[int, str]:
    page = client.get("/console/sign-in")
    assert page.status_code == 200
    answer = client.post("/console/sign-in", data={"csrf": _csrf(page.text), "api_key": key})
    return answer.status_code, answer.text


def test_a_reviewer_signs_in_and_the_cookie_is_strict_and_http_only(
    browser: TestClient, auth: KeyMaker
) -> None:
    page = browser.get("/console/sign-in")
    answer = browser.post(
        "/console/sign-in",
        data={"csrf": _csrf(page.text), "api_key": _key(auth("rita", Role.REVIEWER))},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/queue"
    cookie = answer.headers["set-cookie"].lower()
    assert "recovery_console=" in cookie
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    queue = browser.get("/console/queue")
    assert queue.status_code == 200
    assert "Review queue" in queue.text
    assert "rita (reviewer)" in queue.text


def test_a_user_key_cannot_sign_in(browser: TestClient, auth: KeyMaker) -> None:
    status, html = sign_in(browser, _key(auth("alice")))
    assert status == 403
    assert "this is a user&#39;s API key" in html
    assert browser.get("/console/queue").status_code == 303


def test_an_unknown_key_is_refused_with_its_message(browser: TestClient) -> None:
    status, html = sign_in(browser, "rk_nothere_secret")
    assert status == 401
    assert "unknown API key" in html


def test_a_form_without_its_csrf_token_is_refused(browser: TestClient, auth: KeyMaker) -> None:
    assert sign_in(browser, _key(auth("rita", Role.REVIEWER)))[0] == 303
    refused = browser.post("/console/cases/nothing/claim", data={})
    assert refused.status_code == 403
    assert "no valid CSRF token" in refused.text
    forged = browser.post("/console/cases/nothing/claim", data={"csrf": "guess"})
    assert forged.status_code == 403
    no_cookie = TestClient(browser.app, follow_redirects=False)
    page = no_cookie.get("/console/sign-in")
    assert "csrf" in page.text
    no_cookie.cookies.clear()
    signin = no_cookie.post(
        "/console/sign-in", data={"csrf": _csrf(page.text), "api_key": "rk_x_y"}
    )
    assert signin.status_code == 403


def test_a_revoked_key_ends_its_session_at_the_next_request(
    browser: TestClient, auth: KeyMaker, context: AppContext, clock: Clock
) -> None:
    key = _key(auth("rita", Role.REVIEWER))
    assert sign_in(browser, key)[0] == 303
    assert browser.get("/console/queue").status_code == 200
    with context.database.unit_of_work() as session:
        assert revoke_key(session, key.split("_")[1], clock())
    assert browser.get("/console/queue").status_code == 303
    # Ended for good: a key made anew under the same subject does not revive it.
    auth("rita", Role.REVIEWER)
    assert browser.get("/console/queue").status_code == 303


def test_an_idle_session_ends_and_sign_out_ends_it_too(
    browser: TestClient, auth: KeyMaker, clock: Clock
) -> None:
    assert sign_in(browser, _key(auth("rita", Role.REVIEWER)))[0] == 303
    clock.advance(minutes=29)
    assert browser.get("/console/queue").status_code == 200
    clock.advance(minutes=31)
    assert browser.get("/console/queue").status_code == 303
    assert sign_in(browser, _key(auth("rob", Role.REVIEWER)))[0] == 303
    page = browser.get("/console/queue")
    out = browser.post("/console/sign-out", data={"csrf": _csrf(page.text)})
    assert out.status_code == 303
    assert browser.get("/console/queue").status_code == 303


def test_the_console_serves_htmx_from_the_npm_package(browser: TestClient) -> None:
    served = browser.get("/console/static/htmx.min.js")
    assert served.status_code == 200
    assert "htmx" in served.text[:2000]
    assert browser.get("/console/static/console.css").status_code == 200
    assert browser.get("/console/static/../app.py").status_code == 404
