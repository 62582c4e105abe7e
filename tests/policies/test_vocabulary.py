"""The triage vocabulary is policy data: validated on load, against the policy."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from policies import PolicyFileError, load_policy
from policies.vocabulary import LANGUAGES, VOCABULARY_PATH, load_vocabulary, normalise


def test_the_shipped_vocabulary_loads_and_covers_every_language() -> None:
    vocabulary = load_vocabulary(load_policy())
    assert set(vocabulary.words) >= set(LANGUAGES)
    assert "bsc" in vocabulary.networks
    assert vocabulary.phrases("address")["adresse"] == "fr"


def _written(tmp_path: Path, change: dict[str, object]) -> Path:
    raw = yaml.safe_load(VOCABULARY_PATH.read_text(encoding="utf-8"))
    raw.update(change)
    path = tmp_path / "triage.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_a_network_the_policy_does_not_know_is_refused(tmp_path: Path) -> None:
    raw = yaml.safe_load(VOCABULARY_PATH.read_text(encoding="utf-8"))
    path = _written(tmp_path, {"networks": {**raw["networks"], "atlantis": {"names": ["atl"]}}})
    with pytest.raises(PolicyFileError, match="not in the policy: atlantis"):
        load_vocabulary(load_policy(), path)


def test_a_missing_language_is_refused(tmp_path: Path) -> None:
    raw = yaml.safe_load(VOCABULARY_PATH.read_text(encoding="utf-8"))
    words = {k: v for k, v in raw["words"].items() if k != "ko"}
    with pytest.raises(PolicyFileError, match="no phrases for ko"):
        load_vocabulary(load_policy(), _written(tmp_path, {"words": words}))


def test_standards_are_written_many_ways_and_read_as_one() -> None:
    assert normalise("ERC-20") == normalise("erc 20") == normalise("ERC20") == "erc20"
    assert normalise("  BEP_20\n network ") == "bep20 network"
