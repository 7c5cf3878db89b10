"""Dagster project of tap-clevertap-counts (docs/orchestrator.md); definitions.py is its entry."""
