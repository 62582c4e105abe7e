"""`python -m benchmarks` runs every benchmark in turn."""

from __future__ import annotations

from benchmarks import (
    confirm_cycle,
    discovery_scan,
    orm_rows,
    triage_read,
    verify_batch,
    verify_cycle,
)

if __name__ == "__main__":
    verify_batch.main([])
    verify_cycle.main([])
    confirm_cycle.main([])
    orm_rows.main([])
    discovery_scan.main([])
    triage_read.main([])
