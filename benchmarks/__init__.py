"""`make bench`: backfills measured against CleverTap's concurrency limit (see BENCHMARKS.md)."""
