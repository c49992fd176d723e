"""What each call frame must hold: the REST handler's body rules, answered as error payloads.

The rules are the REST handler's (``handlers.rest.bodies``), in its order: the
agent ``id``; in MessagePack, a ``data`` JSON can represent; then, for ``data``
calls, a configured metric ``type`` and an object ``data``. A bad call gets an
error answer naming the first rule it breaks; the socket stays open.
"""

from typing import Any

from handlers.rest.bodies import is_json_value, required_id
from handlers.rest.exceptions import Unprocessable
from poa_backend.core.metric_types import ais_metric_type

UNKNOWN_CALL = "unknown_call"
INVALID_ID = "invalid_id"
DATA_NOT_JSON = "data_not_json"
UNKNOWN_TYPE = "unknown_type"
DATA_NOT_AN_OBJECT = "data_not_an_object"
#: The shared presence store (Redis) is out of reach: call again later.
PRESENCE_UNAVAILABLE = "presence_unavailable"

CALLS = frozenset({"ping", "data", "bye"})


def check_common(frame: dict[str, Any], binary: bool) -> str | None:
    """What every call needs: None when valid, else the reason."""
    try:
        required_id(frame)
    except Unprocessable:
        return INVALID_ID
    if binary and not is_json_value(frame.get("data")):
        return DATA_NOT_JSON
    return None


async def check_data(frame: dict[str, Any]) -> str | None:
    """What a ``data`` call needs beyond ``check_common``: None when valid, else the reason."""
    if not await ais_metric_type(frame.get("type")):
        return UNKNOWN_TYPE
    if not isinstance(frame.get("data"), dict):
        return DATA_NOT_AN_OBJECT
    return None
