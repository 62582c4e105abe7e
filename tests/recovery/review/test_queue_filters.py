"""The review queue's filters by status, class and holder, and its order by value."""

from __future__ import annotations

from typing import Any

from tests.recovery.review.conftest import Desk


def _queue(desk: Desk, headers: dict[str, str] | None = None, **query: Any) -> Any:
    return desk.client.get("/v1/review/queue", params=query, headers=headers or desk.rita)


def _ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["items"]]


def _in_review(desk: Desk, **quoted: Any) -> dict[str, Any]:
    return desk.accept(desk.quoted_case(**quoted))


def test_the_queue_filters_by_class_holder_and_status_and_orders_by_value(desk: Desk) -> None:
    ethereum = desk.devnet.chain("ethereum")
    odd = ethereum.deploy_token(symbol="ODD", decimals=18)
    # bsc wrong-network cases are direct; an unlisted token on ethereum is conditional.
    small = _in_review(desk, wei=10**18)
    large = _in_review(desk, wei=3 * 10**18)
    unlisted = _in_review(desk, network="ethereum", token=odd, wei=5 * 10**18)
    asked = _in_review(desk, wei=2 * 10**18)
    response = desk.client.post(
        f"/v1/review/{asked['id']}/request-info", json={"question": "Why?"}, headers=desk.rob
    )
    assert response.status_code == 200, response.text

    assert _ids(_queue(desk)) == [small["id"], large["id"], unlisted["id"]]
    assert _ids(_queue(desk, status="needs_info")) == [asked["id"]]
    assert _ids(_queue(desk, network_class="direct")) == [small["id"], large["id"]]
    assert _ids(_queue(desk, network_class="conditional")) == [unlisted["id"]]
    # Highest value first (the unlisted token has no price: value 0, last), a page at a
    # time: the cursor walks the same order.
    first = _queue(desk, sort="value", limit=1)
    seen = _ids(first)
    cursor = first.json()["next_cursor"]
    while cursor:
        page = _queue(desk, sort="value", limit=1, cursor=cursor)
        seen += _ids(page)
        cursor = page.json()["next_cursor"]
    assert seen == [large["id"], small["id"], unlisted["id"]]

    claimed = desk.client.post(f"/v1/review/{large['id']}/claim", headers=desk.rita)
    assert claimed.status_code == 200, claimed.text
    assert _ids(_queue(desk, holder="mine")) == [large["id"]]
    assert _ids(_queue(desk, holder="mine", headers=desk.rob)) == []
    assert _ids(_queue(desk, holder="unclaimed")) == [small["id"], unlisted["id"]]
    # A hold lapses after 30 minutes: the case is nobody's again.
    desk.clock.advance(seconds=31 * 60)
    assert _ids(_queue(desk, holder="unclaimed")) == [small["id"], large["id"], unlisted["id"]]


def test_unknown_queue_filters_are_refused_with_the_allowed_values(desk: Desk) -> None:
    for query in ({"status": "paid"}, {"network_class": "magic"}, {"holder": "them"}):
        response = _queue(desk, **query)
        assert response.status_code == 422, response.text
    broken = _queue(desk, sort="value", cursor="v12x_4")
    assert broken.status_code == 422
    assert "is not a cursor" in broken.json()["detail"]
    beyond = _queue(desk, cursor="v9999999999999999999_4")
    assert beyond.status_code == 422
    assert "past any case's value" in beyond.json()["detail"]
