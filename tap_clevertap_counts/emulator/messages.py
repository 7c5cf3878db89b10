"""CleverTap's answer words, copied from the reference page's error table.

They live in one place because the tap and its tests match on them verbatim: a typo here would
make the whole suite agree with itself and disagree with CleverTap.
"""

from __future__ import annotations

from typing import Any

# (HTTP status, error) pairs of the "Error Codes" table.
ACCOUNT_ID_MISSING = (503, "12 digit account ID mandatory.")
CREDENTIALS_MISSING = (400, "Account credentials missing")
INVALID_CREDENTIALS = (401, "Invalid Credentials")
PAYLOAD_MANDATORY = (400, "Payload is mandatory")
INVALID_QUERY = (400, "Invalid query")
INVALID_REQUEST_ID = (400, "Invalid request ID")
ERROR_PROCESSING = (400, "Error Processing, Please try again later")
TOO_MANY_CONCURRENT = (429, "Too many concurrent requests")
TOO_MANY_RETRIES = (429, "Invalid query blocking this because of too many retries")
SERVER_ERROR = (500, "Server error")
COME_BACK_LATER = (503, "Please come back later")
MAINTENANCE = (503, "System under maintenance. Please retry later.")

# Not in the table: what an HTTP server says about paths and methods it does not serve.
NOT_FOUND = (404, "Not found")
METHOD_NOT_ALLOWED = (405, "Method not allowed")

# Query validation errors, returned verbatim with HTTP 400 in CleverTap's bracketed style.
ERR_INVALID_PAYLOAD = "[invalid payload]"
ERR_UNKNOWN_PARAMETER = "[unknown parameter]"
ERR_MISSING_EVENT_NAME = "[missing event name]"
ERR_INVALID_EVENT_NAME = "[invalid event name]"
ERR_MISSING_FROM = "[missing from date]"
ERR_MISSING_TO = "[missing to date]"
ERR_INVALID_FROM = "[invalid from date]"
ERR_INVALID_TO = "[invalid to date]"
ERR_FROM_AFTER_TO = "[from date after to date]"
ERR_TO_IN_FUTURE = "[to date in the future]"
ERR_INVALID_PROPERTIES = "[invalid event properties]"
ERR_UNKNOWN_FILTER_KEY = "[unknown event property filter key]"
ERR_MISSING_PROPERTY_NAME = "[missing event property name]"
ERR_MISSING_OPERATOR = "[missing operator]"
ERR_MISSING_VALUE = "[missing event property value]"
ERR_UNKNOWN_PROPERTY = "[unknown event property]"
ERR_UNKNOWN_OPERATOR = "[unknown operator]"
ERR_OPERATOR_TYPE = "[operator not supported for property type]"
ERR_INVALID_VALUE = "[invalid event property value]"


def fail(error: str) -> dict[str, Any]:
    """CleverTap's failure shape: status fail plus the error words."""
    return {"status": "fail", "error": error}


def success(count: int) -> dict[str, Any]:
    """CleverTap's synchronous (or finished) answer."""
    return {"status": "success", "count": count}


def partial(req_id: int) -> dict[str, Any]:
    """CleverTap's "still working, poll with this req_id" answer."""
    return {"status": "partial", "req_id": req_id}
