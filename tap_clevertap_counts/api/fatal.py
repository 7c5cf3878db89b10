"""What the user reads when CleverTap gives an answer that no retry can fix.

Kept apart from the client's loop so each message (what is wrong, and how to fix it) can be
read in one place: a refused passcode, a query CleverTap rejects (its dates or its filters), or a
host that does not answer like the counts API.
"""

from __future__ import annotations

from tap_clevertap_counts.errors import ApiError, AuthError, EndpointError, QueryRejectedError

from .answers import Answer, Outcome
from .request import Question

FATAL = frozenset({Outcome.AUTH, Outcome.REJECTED, Outcome.ENDPOINT})


def fatal_error(request: Question, answer: Answer, base_url: str) -> ApiError:
    """The one-line error for a fatal `answer` to `request`."""
    if answer.outcome is Outcome.AUTH:
        return AuthError(
            f"CleverTap refused the credentials: {said(answer)}. Check account_id and "
            "passcode, and that region (or api_url) is the account's region"
        )
    if answer.outcome is Outcome.REJECTED and _about_dates(answer.words):
        return QueryRejectedError(
            f"CleverTap refused the dates of {request.describe()}: {said(answer)}. Its "
            "'today' comes before the last day asked for: set timezone to the account's "
            "time zone, or end_date to a day CleverTap has finished"
        )
    if answer.outcome is Outcome.REJECTED:
        return QueryRejectedError(
            f"CleverTap rejected {request.describe()}: {said(answer)}. Fix that query's "
            "event_name or event_properties in the config"
        )
    return EndpointError(
        f"{base_url} does not answer like CleverTap's counts API: {said(answer)}. "
        "Check region or api_url"
    )


def _about_dates(words: str) -> bool:
    """A validation error about the range (`[to date in the future]`), not the query."""
    lowered = words.lower()
    return "date" in lowered or "future" in lowered


def said(answer: Answer) -> str:
    """The answer as the API gave it: its HTTP status and words."""
    if answer.http_status is None:
        return answer.words
    return f"HTTP {answer.http_status} '{answer.words}'"
