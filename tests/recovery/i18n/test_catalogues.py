"""Every message a user reads comes from the catalogues, in ten languages."""

from __future__ import annotations

from typing import Any

import pytest
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from recovery.access.keys import Role
from recovery.api.app import create_app
from recovery.api.context import AppContext
from recovery.domain.messages import STATE_WORDS
from recovery.i18n.catalogue import CATALOGUES, LANGUAGES, messages, negotiate, translate
from recovery.i18n.texts import CHALLENGE_HOW, REASON_TEXTS
from tests.recovery.api.builders import DEPOSIT, appeal_body


def _template() -> set[str]:
    with (CATALOGUES / "messages.pot").open("rb") as handle:
        return {str(m.id) for m in read_po(handle) if m.id}


def test_the_template_holds_every_text_users_read() -> None:
    texts = {*STATE_WORDS.values(), *REASON_TEXTS.values(), CHALLENGE_HOW}
    assert _template() == texts


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_catalogue_has_every_message(language: str) -> None:
    translated = messages(language)
    missing = sorted(_template() - set(translated))
    assert missing == [], f"{language} lacks {len(missing)}: {missing[:3]}"
    if language != "en":
        same = [t for t in _template() if translated[t] == t]
        assert same == [], f"{language} leaves these in English: {same[:3]}"


@pytest.mark.parametrize(
    ("header", "preferred", "language"),
    [
        (None, None, "en"),
        ("tr-TR,tr;q=0.9,en;q=0.8", None, "tr"),
        ("de-DE,de;q=0.9,pt-BR;q=0.8", None, "pt"),  # German is not spoken: the next one
        ("fr;q=0.2, ko;q=0.9", None, "ko"),
        ("ja", None, "en"),
        ("*;q=0.5, garbage;;, zh-Hans-CN", None, "zh"),
        ("ru", "vi", "vi"),  # a stored choice wins
    ],
)
def test_the_language_follows_the_choice_then_accept_language(
    header: str | None, preferred: str | None, language: str
) -> None:
    assert negotiate(header, preferred) == language


def test_events_reason_codes_and_the_challenge_speak_the_users_language(
    context: AppContext, auth: Any
) -> None:
    alice = auth("alice")
    with TestClient(create_app(context)) as client:
        registered = client.post(
            "/v1/deposit-addresses",
            json={"address": DEPOSIT, "owner": "alice", "networks": ["ethereum"]},
            headers=auth("ops", Role.ADMIN),
        )
        assert registered.status_code == 201, registered.text
        filed = client.post("/v1/appeals", json=appeal_body(), headers=alice)
        assert filed.status_code == 201, filed.text
        case = filed.json()["id"]
        turkish = client.get(
            f"/v1/appeals/{case}/events", headers={**alice, "Accept-Language": "tr-TR,tr"}
        ).json()["items"][0]
        codes = client.get("/v1/reason-codes", headers={"Accept-Language": "ko"}).json()
        chosen = client.put("/v1/me/language", json={"language": "cs"}, headers=alice)
        czech = client.get(
            f"/v1/appeals/{case}/events", headers={**alice, "Accept-Language": "tr"}
        ).json()["items"][0]
        mine = client.get("/v1/me/language", headers=alice).json()
        cleared = client.put("/v1/me/language", json={"language": None}, headers=alice)
        again = client.get(f"/v1/appeals/{case}/events", headers=alice).json()["items"][0]
        bad = client.put("/v1/me/language", json={"language": "xx"}, headers=alice)
    assert turkish["reason_code"] == "filed"
    assert turkish["reason"] == translate(REASON_TEXTS["filed"], "tr") != REASON_TEXTS["filed"]
    assert codes["language"] == "ko"
    by_code = {item["code"]: item["text"] for item in codes["items"]}
    assert by_code["below_minimum_value"] == translate(REASON_TEXTS["below_minimum_value"], "ko")
    assert chosen.status_code == 200
    assert mine == {"language": "cs"}
    assert czech["reason"] == translate(REASON_TEXTS["filed"], "cs")
    assert cleared.json() == {"language": None}
    assert again["reason"] == REASON_TEXTS["filed"]
    assert bad.status_code == 422
