"""Which agents the backend knows, when each was last heard from, and whether it is active now.

The ``known_agents`` receiver (subscribed to every metric type) keeps one
``KnownAgent`` row per agent: ``last_seen`` is the latest message of any type,
``inactive_since`` the latest inactive event (the agent went quiet, said bye or
disconnected). An agent is **active** when

- it was heard from within ``AGENT_STALE_AFTER`` seconds,
- it has not gone inactive since (``inactive_since`` is older than ``last_seen``), and
- its latest Ethereum ``statistics`` row, if any, says ``active``.

Upserts are idempotent, so with several processes each one's receiver may write
the agents it saw.
"""

from datetime import datetime, timedelta

from django.db.models import BooleanField, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery

from poa_backend.core.conf import poa_settings
from poa_backend.core.message import Message
from poa_backend.core.receiver import ReceiverPlugin
from receivers.models import EthereumStatistics, KnownAgent
from receivers.received_time import accepted_at, now

AGENT_ID_MAX_LENGTH = 255
#: Agents per UPDATE: well under SQLite's limit on a statement's parameters.
INACTIVE_CHUNK = 500


def known_agents(at: datetime | None = None) -> QuerySet[KnownAgent]:
    """Every known agent, annotated with ``is_active`` and its latest Ethereum statistics."""
    at = at or now()
    latest = EthereumStatistics.objects.filter(agent_id=OuterRef("agent_id")).order_by("-date")
    return KnownAgent.objects.annotate(
        statistics_at=Subquery(latest.values("date")[:1]),
        reported_active=Subquery(latest.values("active")[:1]),
    ).annotate(
        is_active=ExpressionWrapper(
            Q(last_seen__gte=at - timedelta(seconds=poa_settings.AGENT_STALE_AFTER))
            & (Q(inactive_since__isnull=True) | Q(inactive_since__lt=F("last_seen")))
            & (Q(reported_active__isnull=True) | Q(reported_active=True)),
            output_field=BooleanField(),
        )
    )


class KnownAgentsReceiver(ReceiverPlugin):
    """Keeps ``KnownAgent`` rows: one upsert per batch, one update per run of inactive agents."""

    #: "Last seen" to the second is enough: at most one upsert a second, whatever the load.
    linger = 1.0

    def handle_messages(self, messages: list[Message]) -> None:
        seen: dict[str, datetime] = {}
        for message in messages:
            agent_id = message.agent_id
            if not isinstance(agent_id, str) or not 0 < len(agent_id) <= AGENT_ID_MAX_LENGTH:
                continue
            when = accepted_at(message)
            if agent_id not in seen or when > seen[agent_id]:
                seen[agent_id] = when
        if seen:
            KnownAgent.objects.bulk_create(
                [KnownAgent(agent_id=a, first_seen=t, last_seen=t) for a, t in seen.items()],
                update_conflicts=True,
                unique_fields=["agent_id"],
                update_fields=["last_seen"],
            )

    def handle_inactive_agents(self, agent_ids: list[str]) -> None:
        when = now()
        for start in range(0, len(agent_ids), INACTIVE_CHUNK):
            chunk = agent_ids[start : start + INACTIVE_CHUNK]
            KnownAgent.objects.filter(agent_id__in=chunk).update(inactive_since=when)
