"""Errors a user can act on.

Every error the tap stops with is one of these: its message is one line that says what went
wrong and what to do, and it never contains the passcode or a request's headers, because the
CLI prints it as is.
"""

from __future__ import annotations


class CleverTapCountsError(Exception):
    """A failure the CLI reports as one line and a non-zero exit, without a traceback."""


class ConfigError(CleverTapCountsError):
    """The config is wrong; nothing was sent to CleverTap."""


class ApiError(CleverTapCountsError):
    """CleverTap (or something in front of it) answered in a way the tap must stop on."""


class AuthError(ApiError):
    """Credentials are missing or wrong: retrying cannot help, so nothing more is sent."""


class QueryRejectedError(ApiError):
    """CleverTap rejected one query as invalid; the message names the query and its dates."""


class RetriesExhaustedError(ApiError):
    """A failing server (5xx, a timeout, a network error, a malformed answer) outlasted every
    try in a row (`max_tries`). A 429 spends `busy_timeout_seconds` instead (`budgets.py`)."""


class AccountBusyError(ApiError):
    """CleverTap kept answering 429 (its slots held by others) for `busy_timeout_seconds`."""


class UnreachableError(ApiError):
    """The host refused the connection or does not resolve, from the first request on."""


class PollTimeoutError(ApiError):
    """A pending query stayed `partial` for longer than `poll_timeout_seconds`."""


class EndpointError(ApiError):
    """The URL does not behave like CleverTap's counts API (404, redirect): a config problem."""


class StoppedError(CleverTapCountsError):
    """The run is stopping (another job failed, or the reader went away): send nothing more."""
