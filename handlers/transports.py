"""Which transport each node reports over, and its client: noted when a node announces itself.

POA agents announce themselves with an ``information`` message (its body's ``node`` names the
Ethereum client); ethstats nodes with their ``hello`` (handlers/ethstats/login.py). The admin's
*Node transports* list shows the latest of each node. A database that is away costs the note,
never the agent's call.

An agent repeats its ``information`` every few seconds: a node is noted again only when its
transport, client or user changed, or ``NOTE_INTERVAL`` after its last note, and both agent
transports note it beside the agent's calls, never in front of them (a database write in a
busy SQLite file can take a few hundred milliseconds).
"""

import asyncio
import logging
import threading

from asgiref.sync import sync_to_async
from cachetools import TTLCache
from django.db import DatabaseError

from handlers.models import NodeTransport
from poa_backend.core.message import Message

logger = logging.getLogger(__name__)


def announced_client(message: Message) -> str | None:
    """The client an ``information`` message names (its body's ``node``), else None."""
    if message.data.get("type") != "information":
        return None
    body = message.data.get("body")
    client = body.get("node") if isinstance(body, dict) else None
    return client if isinstance(client, str) else ""


#: Seconds after which an unchanged node is noted again (its ``last_seen`` in the admin).
NOTE_INTERVAL = 60.0

_noted: TTLCache[str, tuple[str, str, str]] = TTLCache(maxsize=100_000, ttl=NOTE_INTERVAL)
_noted_lock = threading.Lock()
_notes_under_way: set[asyncio.Task] = set()


def _claim_note(agent_id: str, note: tuple[str, str, str]) -> bool:
    """Whether this note is due (and, if so, no other call writes the same one meanwhile)."""
    with _noted_lock:
        if _noted.get(agent_id) == note:
            return False
        _noted[agent_id] = note
        return True


def write_note(agent_id: str, transport: str, client: str, user_name: str) -> None:
    """Write a due note (sync: queries the database); a database that is away costs the note."""
    try:
        NodeTransport.record(agent_id, transport, client, user_name)
    except DatabaseError as exc:
        with _noted_lock:
            _noted.pop(agent_id, None)  # noted again with its next announcement
        logger.warning("node transport of %s not noted: %s", agent_id, exc)


def due_note(message: Message, transport: str, user_name: str) -> tuple[str, str, str, str] | None:
    """The note to write when ``message`` announces its node and the note is due (then claimed)."""
    client = announced_client(message)
    if client is None or not _claim_note(message.agent_id, (transport, client, user_name)):
        return None
    return message.agent_id, transport, client, user_name


def note_transport_soon(message: Message, transport: str, user_name: str) -> None:
    """Record the node's transport when ``message`` announces it and the note is due: the
    write runs on a worker thread, beside the caller on the event loop."""
    note = due_note(message, transport, user_name)
    if note is None:
        return
    task = asyncio.get_running_loop().create_task(sync_to_async(write_note, thread_sensitive=False)(*note))
    _notes_under_way.add(task)  # held until done: the loop keeps only weak references
    task.add_done_callback(_notes_under_way.discard)
