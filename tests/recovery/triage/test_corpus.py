"""Triage over two corpora of real-shaped descriptions in ten languages: field-level
precision and recall per language, printed with the test run.

`tuning` (230 descriptions) is the corpus the vocabulary and the reader were tuned on;
`holdout` (60) was written apart and never looked at while tuning: its figures say how
triage does on words it has not seen. Both were written for these tests (typos, mixed
scripts, lower-case tickers, local number formats, hashes inside punctuation).
"""

from __future__ import annotations

from collections import Counter

import pytest

from policies import load_policy
from policies.vocabulary import LANGUAGES
from recovery.triage.service import reader_for
from tests.recovery.triage.scoring import Tally, load_corpus, score, table

# The fields a route depends on: they must be right at least this often, per language.
ROUTING_FIELDS = ("case_type", "network", "opened_for")
TUNED_FLOOR = 0.95
# Set before the held-out corpus was first read, for all its languages together.
HOLDOUT_FLOOR = 0.85


def test_the_corpora_cover_ten_languages() -> None:
    tuning, holdout = load_corpus("tuning"), load_corpus("holdout")
    assert len(tuning) >= 200
    assert len(holdout) >= 50
    for corpus in (tuning, holdout):
        assert set(Counter(e["lang"] for e in corpus)) == set(LANGUAGES)
    assert not {e["text"] for e in tuning} & {e["text"] for e in holdout}


def test_the_tuning_corpus_is_read_right_per_language(capsys: pytest.CaptureFixture[str]) -> None:
    result = score(reader_for(load_policy()), load_corpus("tuning"))
    with capsys.disabled():
        print("\ntriage, tuning corpus (precision/recall):\n" + table(result))
    for language, fields in result.tallies.items():
        for name in ROUTING_FIELDS:
            tally = fields[name]
            assert tally.precision >= TUNED_FLOOR, (language, name, result.misses)
            assert tally.recall >= TUNED_FLOOR, (language, name, result.misses)


def test_the_held_out_corpus_is_reported_and_holds_its_floor(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = score(reader_for(load_policy()), load_corpus("holdout"))
    pooled = {name: Tally() for name in ROUTING_FIELDS}
    for fields in result.tallies.values():
        for name in ROUTING_FIELDS:
            pooled[name].tp += fields[name].tp
            pooled[name].fp += fields[name].fp
            pooled[name].fn += fields[name].fn
    with capsys.disabled():
        print("\ntriage, held-out corpus (precision/recall):\n" + table(result))
        print(
            "held-out, all languages: "
            + ", ".join(f"{name} {t.precision:.2f}/{t.recall:.2f}" for name, t in pooled.items())
        )
    for name, tally in pooled.items():
        assert tally.precision >= HOLDOUT_FLOOR, (name, result.misses)
        assert tally.recall >= HOLDOUT_FLOOR, (name, result.misses)
