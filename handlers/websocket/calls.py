"""What the agent socket answers to a refused call: the core intake's reasons as its error payloads.

The rules are the core's intake check (``poa_backend.core.intake``), the REST handler's
too, in the same order; this module only names the payloads (docs/handlers.md). A bad
call gets the payload of the first rule it breaks; the socket stays open.
"""

from typing import Any

from poa_backend.core import intake

UNKNOWN_CALL = "unknown_call"
#: ``ref`` is echoed in the answer, so it must be a value the answer can carry.
INVALID_REF = "invalid_ref"
#: A durable receiver's spool is full: nothing was kept, send the call again later.
RECEIVERS_UNAVAILABLE = "receivers_unavailable"

CALLS = frozenset({"ping", "data", "bye"})

#: The error payload of each intake reason (no other reason reaches a socket).
PAYLOADS = {
    intake.MALFORMED: "malformed_frame",
    intake.NOT_AN_OBJECT: "not_an_object",
    intake.MISSING_ID: "invalid_id",
    intake.INVALID_ID: "invalid_id",
    intake.DATA_NOT_JSON: "data_not_json",
    intake.TOO_DEEP: "data_too_deep",
    intake.UNKNOWN_TYPE: "unknown_type",
    intake.DATA_NOT_AN_OBJECT: "data_not_an_object",
}


def payload(refusal: intake.Refusal) -> str:
    """The error payload answering ``refusal``."""
    return PAYLOADS.get(refusal.reason, refusal.reason)


def echoable(ref: Any) -> bool:
    """Whether ``ref`` can be echoed: a JSON value within ``MAX_NESTING`` levels, in either encoding."""
    try:
        intake.check_json_value(ref)
    except intake.Refusal:
        return False
    return True
