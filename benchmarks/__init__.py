"""Benchmarks of the recovery service; each module runs with `python -m`."""
