"""CleverTap's header checks, in the order its error table implies.

A missing account header is a 503 (not a 400) in CleverTap's table, and a header that is present
but unreadable is "credentials missing": odd, but the tap's error handling is tested against
exactly these words.
"""

from __future__ import annotations

import hmac
from email.message import Message

from tap_clevertap_counts.emulator import messages as m

ACCOUNT_HEADER = "X-CleverTap-Account-Id"
PASSCODE_HEADER = "X-CleverTap-Passcode"


def _readable(values: list[str]) -> str | None:
    """The single, non-empty, printable-ASCII value of a header, or None."""
    if len(values) != 1:
        return None
    value = values[0].strip()
    if not value or not all(33 <= ord(char) <= 126 for char in value):
        return None
    return value


def check(headers: Message, account_id: str, passcode: str) -> tuple[int, str] | None:
    """The (status, error) a request's credentials earn, or None when they are right."""
    accounts = headers.get_all(ACCOUNT_HEADER) or []
    if not accounts:
        return m.ACCOUNT_ID_MISSING
    account = _readable(accounts)
    secret = _readable(headers.get_all(PASSCODE_HEADER) or [])
    if account is None or secret is None:
        return m.CREDENTIALS_MISSING
    # Constant-time comparisons: the emulator should not teach a timing side channel either.
    good_account = hmac.compare_digest(account.encode(), account_id.encode())
    good_secret = hmac.compare_digest(secret.encode(), passcode.encode())
    if not (good_account and good_secret):
        return m.INVALID_CREDENTIALS
    return None
