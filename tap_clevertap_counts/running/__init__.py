"""Doing a run: jobs through the API's pools, the checked Trends fast path, progress."""
