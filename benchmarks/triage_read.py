"""Triage's reading of descriptions, timed per description, beside a bare baseline.

    .venv/bin/python -m benchmarks.triage_read [--descriptions 10000]

Reads N descriptions (the triage test corpora, repeated with their hashes changed so no
two are alike) without the chain lookup, and times each one. The baseline in the same
run is the least any reader must do: normalise the text and find its hex strings. Prints
median, p90 and p99 microseconds per description for both, and the ratio.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import yaml

from policies import load_policy
from policies.vocabulary import normalise
from recovery.triage.service import reader_for

CORPORA = Path(__file__).resolve().parent.parent / "tests" / "recovery" / "triage" / "corpus"
_HEX = re.compile(r"0x[0-9a-fA-F]{40,64}")


def descriptions(count: int) -> list[str]:
    """`count` descriptions from the corpora, each with its hex strings made unique."""
    texts = []
    for path in sorted(CORPORA.glob("*.yaml")):
        texts += [entry["text"] for entry in yaml.safe_load(path.read_text(encoding="utf-8"))]
    out = []
    for i in range(count):
        text = texts[i % len(texts)]
        out.append(_HEX.sub(lambda m, i=i: m.group(0)[:-6] + f"{i:06x}", text))
    return out


def _percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    return (
        statistics.median(ordered),
        ordered[int(len(ordered) * 0.9)],
        ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--descriptions", type=int, default=10_000)
    args = parser.parse_args(argv)
    reader = reader_for(load_policy())
    texts = descriptions(args.descriptions)
    for text in texts[:200]:  # warm up: compiled patterns, caches
        reader.read(text)
    read, bare = [], []
    for text in texts:
        started = time.perf_counter()
        normalise(text)
        _HEX.findall(text)
        bare.append((time.perf_counter() - started) * 1e6)
        started = time.perf_counter()
        reader.read(text)
        read.append((time.perf_counter() - started) * 1e6)
    r50, r90, r99 = _percentiles(read)
    b50, b90, b99 = _percentiles(bare)
    print(f"{len(texts)} descriptions, no chain lookup (microseconds per description)")
    print(f"  triage reading: median {r50:8.1f}  p90 {r90:8.1f}  p99 {r99:8.1f}")
    print(f"  baseline:       median {b50:8.1f}  p90 {b90:8.1f}  p99 {b99:8.1f}")
    print(f"  reading costs {r50 / b50:.0f}x the baseline at the median; target: median < 1000")


if __name__ == "__main__":
    main()
