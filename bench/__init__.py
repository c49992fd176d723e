"""The benchmark: ``python -m bench SCENARIO ...`` (see docs/performance.md)."""
