"""The appeals desk in a real browser (Debian's chromium through Playwright), on devnets:
two reviewers take a four-eyes case from the queue to paid."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from recovery.access.keys import Role
from tests.conftest import Clock, KeyMaker
from tests.recovery.console.conftest import Served
from tests.recovery.payouts.test_payout_flow import run_until_paid

pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


def signed_in(browser: Browser, url: str, key: str) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{url}/console/sign-in")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    return page


def key_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def test_two_reviewers_take_a_case_from_the_queue_to_paid(
    served: Served, chromium: Browser, auth: KeyMaker, clock: Clock, screenshots: Path
) -> None:
    desk = served.desk
    case: dict[str, Any] = desk.quoted_case(wei=20 * 10**18, sender_index=8)
    assert desk.prove(case, key_index=8).status_code == 200
    desk.accept(case)
    reference = case["reference"]

    rita = signed_in(chromium, served.url, key_of(auth("rita-b", Role.REVIEWER)))
    rita.get_by_label("Network", exact=True).select_option("ethereum")
    rita.get_by_role("button", name="Filter").click()
    expect(rita.get_by_text("No case waits for review with these filters.")).to_be_visible()
    rita.get_by_label("Network", exact=True).select_option("bsc")
    rita.get_by_role("button", name="Filter").click()
    expect(rita.get_by_role("link", name=reference)).to_be_visible()
    # Counts beside the filters: one bsc case, one direct one, nobody holds it yet.
    expect(rita.get_by_label("Network", exact=True)).to_contain_text("bsc (1)")
    expect(rita.get_by_label("Class")).to_contain_text("direct (1)")
    rita.get_by_label("Class").select_option("conditional")
    rita.get_by_role("button", name="Filter").click()
    expect(rita.get_by_text("No case waits for review with these filters.")).to_be_visible()
    rita.get_by_label("Class").select_option("direct")
    # 20 BNB is about 12,000 USD: the high-value desk queue has it, first by priority.
    expect(rita.get_by_label("Desk queue")).to_contain_text("High value (1)")
    rita.get_by_label("Desk queue").select_option("high_value")
    rita.get_by_label("Held by").select_option("unclaimed")
    rita.get_by_label("Order").select_option("priority")
    rita.get_by_role("button", name="Filter").click()
    expect(rita.get_by_role("link", name=reference)).to_be_visible()
    rita.screenshot(path=screenshots / "queue.png", full_page=True)
    # One click claims it: then it is hers.
    rita.get_by_role("button", name=f"Claim {reference}").click()
    rita.goto(f"{served.url}/console/queue?holder=mine")
    expect(rita.get_by_role("link", name=reference)).to_be_visible()
    expect(rita.get_by_label("Held by")).to_contain_text("me (1)")

    rita.get_by_role("link", name=reference).click()
    expect(rita.get_by_role("heading", name=re.compile(reference))).to_be_visible()
    expect(rita.locator("#amount")).to_contain_text("20 BNB")
    expect(rita.locator("#amount")).to_contain_text(str(20 * 10**18))
    quote = case["verdict"]["quote"]
    expect(rita.locator("#fee")).to_contain_text("BNB")
    expect(rita.locator("#net")).to_contain_text(quote["net_amount"])
    expect(rita.get_by_text("four eyes")).to_be_visible()
    rita.screenshot(path=screenshots / "case.png", full_page=True)

    rita.get_by_role("button", name="Approve").click()
    expect(rita.get_by_role("status")).to_have_text("Approval recorded.")
    expect(rita.locator("#approvals")).to_contain_text("1 of 2")
    # The same reviewer twice is refused, on the page, with the service's message.
    rita.get_by_role("button", name="Approve").click()
    expect(rita.get_by_role("alert")).to_contain_text("a different reviewer must approve it")

    rob = signed_in(chromium, served.url, key_of(auth("rob-b", Role.REVIEWER)))
    rob.goto(f"{served.url}/console/cases/{case['id']}")
    rob.get_by_role("button", name="Approve").click()
    expect(rob.get_by_role("status")).to_have_text("Approval recorded.")
    expect(rob.locator(".status")).to_have_text("approved")

    run_until_paid(desk, served.engine, clock, "bsc")
    rob.reload()
    expect(rob.locator(".status")).to_have_text("paid")
    expect(rob.locator("#delivered")).to_contain_text("BNB")
    payout_tx = rob.locator("a.payout-tx").first
    expect(payout_tx).to_have_attribute("href", re.compile(r"^https://bscscan\.com/tx/0x"))
    expect(rob.locator("table.txs")).to_contain_text("delivered")
    rob.screenshot(path=screenshots / "case-paid.png", full_page=True)

    ops = signed_in(chromium, served.url, key_of(auth("ops-b", Role.ADMIN)))
    ops.goto(f"{served.url}/console/payouts")
    expect(ops.get_by_role("heading", name="paid (1)")).to_be_visible()
    expect(ops.get_by_role("link", name=reference)).to_be_visible()
    ops.screenshot(path=screenshots / "payouts.png", full_page=True)
    ops.goto(f"{served.url}/console/overview")
    expect(ops.get_by_role("img", name="Cases paid per day")).to_be_visible()
    expect(ops.get_by_role("row", name=re.compile(r"^paid 1 "))).to_be_visible()
    expect(ops.get_by_role("row", name=re.compile(r"^bsc 1 1 \(100%\)"))).to_be_visible()
    expect(ops.get_by_text("Median time from filing to paid")).not_to_contain_text("no case")
    ops.screenshot(path=screenshots / "overview.png", full_page=True)


def test_a_user_key_cannot_sign_in_and_a_form_without_csrf_is_refused(
    served: Served, chromium: Browser, auth: KeyMaker
) -> None:
    page = chromium.new_context().new_page()
    page.goto(f"{served.url}/console/sign-in")
    page.get_by_label("API key").fill(key_of(auth("alice-b")))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("this is a user's API key")

    rita = signed_in(chromium, served.url, key_of(auth("rita-c", Role.REVIEWER)))
    answer = rita.request.post(
        f"{served.url}/console/cases/any/claim", form={"csrf": "not-the-token"}
    )
    assert answer.status == 403
    assert "no valid CSRF token" in answer.text()


def test_the_console_reads_on_a_phone(
    served: Served, chromium: Browser, auth: KeyMaker, screenshots: Path
) -> None:
    page = chromium.new_context(viewport={"width": 390, "height": 844}).new_page()
    page.goto(f"{served.url}/console/sign-in")
    page.get_by_label("API key").fill(key_of(auth("rita-p", Role.REVIEWER)))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the queue scrolls sideways on a phone: {width}px"
    page.screenshot(path=screenshots / "queue-phone.png", full_page=True)
