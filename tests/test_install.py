"""Installs are pinned and leave a fresh clone's tree as it was (`.ci/run` checks the run
itself: after `make test`, `git status --porcelain` must be empty)."""

from __future__ import annotations

import json
import re
import subprocess
from importlib.metadata import requires
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_what_the_commands_make_is_ignored_by_git() -> None:
    made = [
        ".venv",  # a directory, or a worktree's symlink to one
        "node_modules",
        "recovery.db",
        "recovery.db-wal",
        "recovery.db-shm",
        "recovery.db-journal",
        "recovery.db.lock",
        ".env",
        ".pytest_cache/README.md",
        ".mypy_cache/3.11/x.json",
        ".ruff_cache/CACHEDIR.TAG",
        ".hypothesis/examples/x",
        "recovery/__pycache__/cli.cpython-311.pyc",
        "deposit_recovery.egg-info/PKG-INFO",
        ".devnet/anvil.log",
    ]
    done = subprocess.run(
        [
            "git",
            "-C",
            str(ROOT),
            "check-ignore",
            "--no-index",
            "--verbose",
            "--non-matching",
            *made,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    not_ignored = [
        line.split("\t")[1] for line in done.stdout.splitlines() if line.startswith("::")
    ]
    assert not_ignored == [], f"not in .gitignore: {not_ignored}"


def test_the_npm_lock_holds_every_platforms_anvil_build_with_its_integrity() -> None:
    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    anvil = lock["node_modules/@foundry-rs/anvil"]
    builds = anvil["optionalDependencies"]
    assert len(builds) >= 5
    for name, version in builds.items():
        entry = lock.get(f"node_modules/{name}")
        assert entry is not None, f"{name} is missing from package-lock.json: npm would add it"
        assert entry["version"] == version
        assert entry["integrity"].startswith("sha512-")


def test_the_python_lock_pins_every_dependency_the_project_declares() -> None:
    pinned = {
        _name(line.split("==")[0])
        for line in (ROOT / "requirements.lock").read_text().splitlines()
        if "==" in line
    }
    declared = {
        _name(re.split(r"[\s\[<>=!~;]", spec, maxsplit=1)[0])
        for spec in requires("deposit-recovery") or []
    }
    assert declared - pinned == set(), "declared in pyproject.toml but not in requirements.lock"


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
