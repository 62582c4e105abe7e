"""`python -m benchmarks` runs every benchmark in turn."""

from __future__ import annotations

from benchmarks import verify_batch

if __name__ == "__main__":
    verify_batch.main()
