"""CleverTap's counts API as a client: requests, answers, retries, slots per API.

Usable without the Singer SDK: it imports neither the SDK nor any layer above it
(import-linter contracts in pyproject.toml).
"""
