"""Which transport each node reports over, and its client: noted when a node announces itself.

POA agents announce themselves with an ``information`` message (its body's ``node`` names the
Ethereum client); ethstats nodes with their ``hello`` (handlers/ethstats/login.py). The admin's
*Node transports* list shows the latest of each node. A database that is away costs the note,
never the agent's call.
"""

import logging

from asgiref.sync import sync_to_async
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


def note_transport(message: Message, transport: str, user_name: str) -> None:
    """Record the node's transport when ``message`` announces it (sync code)."""
    client = announced_client(message)
    if client is None:
        return
    try:
        NodeTransport.record(message.agent_id, transport, client, user_name)
    except DatabaseError as exc:
        logger.warning("node transport of %s not noted: %s", message.agent_id, exc)


async def anote_transport(message: Message, transport: str, user_name: str) -> None:
    """``note_transport`` from async code (a database hop only for announcements)."""
    if announced_client(message) is not None:
        await sync_to_async(note_transport, thread_sensitive=False)(message, transport, user_name)
