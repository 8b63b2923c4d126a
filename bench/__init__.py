"""Benchmarks: each script measures one workload of quality.md and exits non-zero when a target is missed."""
