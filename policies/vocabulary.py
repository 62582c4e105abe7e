"""The triage vocabulary (policies/data/triage.yaml): names of networks and tokens, and the
words users write for their mistake, per language. Validated on load against the policy."""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from policies.errors import PolicyFileError
from policies.model import Policy

VOCABULARY_PATH = Path(__file__).parent / "data" / "triage.yaml"
# The languages every phrase list must cover.
LANGUAGES = ("en", "zh", "tr", "cs", "vi", "es", "pt", "ru", "fr", "ko")
WORD_KINDS = ("network", "address", "sent", "wrong_network", "unlisted", "from", "instead")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NetworkNames(_Frozen):
    """How users name one network: `names` mean it anywhere; `weak` ones (a ticker such as
    "eth", a plain word such as "base") only beside a word for "network"."""

    names: tuple[str, ...] = Field(min_length=1)
    weak: tuple[str, ...] = ()


class LanguageWords(_Frozen):
    """One language's phrases, by what they signal (see triage.yaml)."""

    network: tuple[str, ...] = Field(min_length=1)
    address: tuple[str, ...] = Field(min_length=1)
    sent: tuple[str, ...] = Field(min_length=1)
    wrong_network: tuple[str, ...] = Field(min_length=1)
    unlisted: tuple[str, ...] = Field(min_length=1)
    # Words like "from" are optional: some languages mark the sender by a case ending.
    from_: tuple[str, ...] = Field(default=(), alias="from")
    instead: tuple[str, ...] = ()


class Vocabulary(_Frozen):
    """The whole vocabulary."""

    version: str
    networks: dict[str, NetworkNames]
    tokens: tuple[str, ...]
    words: dict[str, LanguageWords]
    token_aliases: dict[str, str] = {}

    @field_validator("words")
    @classmethod
    def _every_language(cls, words: dict[str, LanguageWords]) -> dict[str, LanguageWords]:
        missing = [language for language in LANGUAGES if language not in words]
        if missing:
            raise ValueError(f"no phrases for {', '.join(missing)}")
        return words

    def phrases(self, kind: str) -> dict[str, str]:
        """Every phrase of `kind` (normalised) and the language it comes from."""
        attribute = "from_" if kind == "from" else kind
        found: dict[str, str] = {}
        for language, words in self.words.items():
            for phrase in getattr(words, attribute):
                found.setdefault(normalise(phrase), language)
        return found


def normalise(text: str) -> str:
    """Text as matching sees it: NFKC, lower case, one space between words, and the usual
    ways of writing a standard ("ERC-20", "erc 20") as one ("erc20")."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"\b(erc|bep|trc)[\s\-_]?(20|2)\b", r"\1\2", text)
    return re.sub(r"\s+", " ", text).strip()


def load_vocabulary(policy: Policy, path: Path | None = None) -> Vocabulary:
    """Load and validate the vocabulary; every network it names must be in `policy`."""
    source = path or VOCABULARY_PATH
    vocabulary = _read(source)
    unknown = sorted(set(vocabulary.networks) - set(policy.networks))
    if unknown:
        raise PolicyFileError(str(source), f"networks: not in the policy: {', '.join(unknown)}")
    return vocabulary


@functools.cache
def _read(source: Path) -> Vocabulary:
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
        return Vocabulary.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyFileError(str(source), f"cannot be read: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PolicyFileError(str(source), f"{where}: {first['msg']}") from exc
