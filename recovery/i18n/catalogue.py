"""Reading the message catalogues and choosing a user's language.

The catalogues are gettext `.po` files under `catalogues/<lang>/LC_MESSAGES/`, read with
Babel once per process. A user's language is their stored preference if they set one
(`PUT /v1/me/language`), else the best of `Accept-Language` the service speaks, else
English. A message a catalogue lacks falls back to English (a test fails when one does).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from babel.messages.pofile import read_po

CATALOGUES = Path(__file__).parent / "catalogues"
LANGUAGES = ("en", "zh", "tr", "cs", "vi", "es", "pt", "ru", "fr", "ko")
DEFAULT = "en"
_RANGE = re.compile(r"^\s*([a-zA-Z]{1,8})(?:-[a-zA-Z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*$")


@functools.cache
def messages(language: str) -> dict[str, str]:
    """Every translated message of `language`, by its English text."""
    path = CATALOGUES / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalogue = read_po(handle, locale=language)
    return {
        str(m.id): str(m.string)
        for m in catalogue
        if m.id and isinstance(m.string, str) and m.string and not m.fuzzy
    }


def translate(text: str, language: str) -> str:
    """`text` in `language` (English when the catalogue lacks it)."""
    if language == DEFAULT or language not in LANGUAGES:
        return text
    return messages(language).get(text, text)


def negotiate(accept_language: str | None, preferred: str | None = None) -> str:
    """The language to answer in: the stored preference, else the best-weighted one of
    `Accept-Language` the service speaks (by its primary tag: "pt-BR" is pt), else en."""
    if preferred in LANGUAGES:
        return str(preferred)
    best: tuple[float, int, str] | None = None
    for position, part in enumerate((accept_language or "").split(",")[:20]):
        match = _RANGE.match(part)
        if not match:
            continue
        tag = match.group(1).lower()
        try:
            weight = float(match.group(2)) if match.group(2) else 1.0
        except ValueError:
            continue
        if tag in LANGUAGES and weight > 0 and (best is None or (weight, -position) > best[:2]):
            best = (weight, -position, tag)
    return best[2] if best else DEFAULT
