"""Field-level precision and recall of triage over a corpus, per language."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from recovery.triage.reading import Draft, Reader

CORPORA = Path(__file__).parent / "corpus"
SCORED = ("case_type", "network", "opened_for", "token", "amount", "tx_hash", "address")


def load_corpus(name: str) -> list[dict[str, Any]]:
    """The entries of `tests/recovery/triage/corpus/<name>.yaml`."""
    entries = yaml.safe_load((CORPORA / f"{name}.yaml").read_text(encoding="utf-8"))
    assert isinstance(entries, list)
    return entries


def same(name: str, got: str | None, expected: Any) -> bool:
    """Whether a drafted value is the expected one (amounts compare as numbers)."""
    if got is None or expected is None:
        return got is None and expected is None
    if name == "amount":
        return Decimal(got) == Decimal(str(expected))
    if name in ("tx_hash", "address"):
        return got.lower() == str(expected).lower()
    if name == "token":
        return got.upper() == str(expected).upper()
    return got == str(expected)


@dataclass
class Tally:
    """True positives, false positives and false negatives of one field."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, got: str | None, expected: Any, right: bool) -> None:
        """Count one comparison."""
        if right:
            self.tp += expected is not None
            return
        self.fp += got is not None
        self.fn += expected is not None

    @property
    def precision(self) -> float:
        """Of the values drafted, the share that were right (1.0 when none was drafted)."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """Of the values expected, the share drafted right (1.0 when none was expected)."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass
class Score:
    """Tallies per language and field, and the entries that went wrong."""

    tallies: dict[str, dict[str, Tally]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(Tally))
    )
    misses: list[str] = field(default_factory=list)


def score(reader: Reader, entries: list[dict[str, Any]]) -> Score:
    """Read every entry and tally each field against its expectation."""
    result = Score()
    for entry in entries:
        draft: Draft = reader.read(entry["text"])
        expect = entry["expect"]
        for name in SCORED:
            got, expected = draft.value(name), expect.get(name)
            right = same(name, got, expected)
            result.tallies[entry["lang"]][name].add(got, expected, right)
            if not right:
                result.misses.append(f"{entry['id']} {name}: got {got!r}, expected {expected!r}")
    return result


def table(result: Score, fields: tuple[str, ...] = SCORED) -> str:
    """A printable table: precision/recall per language and field."""
    head = "lang  " + "  ".join(f"{name[:10]:>11}" for name in fields)
    lines = [head]
    for language in sorted(result.tallies):
        cells = []
        for name in fields:
            tally = result.tallies[language][name]
            cells.append(f"{tally.precision:4.2f}/{tally.recall:4.2f}".rjust(11))
        lines.append(f"{language:<6}" + "  ".join(cells))
    return "\n".join(lines)
