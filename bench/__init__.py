"""Benchmarks: each script measures one thing and its results are recorded in BENCHMARKS.md with its command."""
