"""Deduplication against evaluation benchmarks: YouTube ids, the benchmark registry, near-duplicate matching."""
