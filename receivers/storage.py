"""Storage receivers: agents' ``statistics`` reports as rows in the project database.

Each batch the dispatcher hands over becomes one ``bulk_create`` (split only by
the database's own limit on query parameters), never a query per message. A
message of another kind, or a body with a missing or mistyped field, is skipped
and counted (logged at debug level): one bad report never fails its batch.

The receivers are durable: a batch is spooled before the agent's answer and
written until the database takes it. Writes are idempotent: a row is identified by
(agent, acceptance time), which the dispatcher makes distinct per agent at
acceptance, so a batch delivered twice (after an outage or a restart) leaves one
row per report.
"""

import logging
import math
from typing import Any

from django.db import IntegrityError, connections, models, router, transaction

from poa_backend.core.message import Message
from poa_backend.core.receiver import ReceiverPlugin
from receivers.models import EthereumStatistics, SystemStatistics
from receivers.received_time import accepted_at

logger = logging.getLogger(__name__)

BIGINT_MAX = 2**63 - 1
INT_MAX = 2**31 - 1
AGENT_ID_MAX_LENGTH = 255


class InvalidBody(ValueError):
    """A report that cannot become a row; the message names the field."""


def quantity(body: dict[str, Any], key: str, maximum: int = BIGINT_MAX) -> int:
    """A non-negative integer given as a JSON number, a "0x" hex string or a decimal string."""
    value = body.get(key)
    if isinstance(value, str):
        text = value.strip().lower()
        try:
            value = int(text, 16) if text.startswith("0x") else int(text, 10)
        except ValueError:
            raise InvalidBody(f"{key}: not a number: {value!r}")
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidBody(f"{key}: must be an integer, got {type(value).__name__}")
    if not 0 <= value <= maximum:
        raise InvalidBody(f"{key}: out of range: {value}")
    return value


def flag(body: dict[str, Any], key: str) -> bool:
    value = body.get(key)
    if not isinstance(value, bool):
        raise InvalidBody(f"{key}: must be true or false, got {type(value).__name__}")
    return value


def percentage(body: dict[str, Any], key: str) -> float:
    value = body.get(key)
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise InvalidBody(f"{key}: must be a finite number, got {value!r}")
    return float(value)


class StatisticsReceiver(ReceiverPlugin):
    """Writes every ``statistics`` message it gets as one row of ``model``; subclasses map the body."""

    model: type[models.Model]
    #: The ``data.type`` of the messages this receiver stores.
    report_kind = "statistics"
    kinds = frozenset({report_kind})
    #: Rows may wait a quarter of a second to go in with others (larger bulk inserts).
    linger = 0.25
    batch_size = 2000
    #: Most rows in one INSERT (the database may lower it: SQLite limits query parameters).
    insert_batch_size = 1000
    durable = True

    def __init__(self, name: str, options: dict[str, Any] | None = None) -> None:
        super().__init__(name, options)
        #: Figures for operators: rows handed to the database, messages skipped.
        self.stored = 0
        self.skipped = 0

    def row_fields(self, body: dict[str, Any]) -> dict[str, Any]:
        """The model fields from a report body; raises InvalidBody naming the bad field."""
        raise NotImplementedError

    def figures(self) -> dict[str, float]:
        return {"stored": self.stored, "skipped": self.skipped}

    def handle_messages(self, messages: list[Message]) -> None:
        rows = []
        for message in messages:
            fields = self._fields_or_none(message)
            if fields is None:
                self.skipped += 1
                continue
            rows.append({"date": accepted_at(message), "agent_id": message.agent_id, **fields})
        if rows:
            self.insert(rows)
            self.stored += len(rows)

    def insert(self, rows: list[dict[str, Any]]) -> None:
        """One bulk insert; on PostgreSQL a COPY, several times faster than INSERT for large batches."""
        connection = connections[router.db_for_write(self.model)]
        if connection.vendor == "postgresql":
            try:
                with transaction.atomic(using=connection.alias):
                    self._copy(connection, rows)
                return
            except IntegrityError:  # a row already stored (a batch delivered again): INSERT skips it
                logger.info("%s: COPY met a stored row; inserting the batch, skipping it", self.name)
        # ignore_conflicts: a row already stored never fails the batch.
        self.model.objects.bulk_create(
            [self.model(**row) for row in rows], batch_size=self.insert_batch_size, ignore_conflicts=True
        )

    def _copy(self, connection: Any, rows: list[dict[str, Any]]) -> None:
        columns = list(rows[0])
        quoted = ", ".join(connection.ops.quote_name(column) for column in columns)
        table = connection.ops.quote_name(self.model._meta.db_table)
        # The raw cursor's COPY, with the driver's errors turned into Django's (IntegrityError).
        with (
            connection.cursor() as cursor,
            connection.wrap_database_errors,
            cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row([row[column] for column in columns])

    def terminate(self) -> None:
        """Close this worker thread's database connections (kept open between batches)."""
        connections.close_all()

    def _fields_or_none(self, message: Message) -> dict[str, Any] | None:
        data = message.data
        if not isinstance(data, dict) or data.get("type") != self.report_kind:
            logger.debug("%s: skipped a message that is not %r", self.name, self.report_kind)
            return None
        body = data.get("body")
        try:
            if not isinstance(message.agent_id, str) or not 0 < len(message.agent_id) <= AGENT_ID_MAX_LENGTH:
                raise InvalidBody(f"agent id: must be 1 to {AGENT_ID_MAX_LENGTH} characters")
            if not isinstance(body, dict):
                raise InvalidBody("body: must be an object")
            return self.row_fields(body)
        except InvalidBody as exc:
            logger.debug("%s: skipped a report of agent %r: %s", self.name, message.agent_id, exc)
            return None


class EthereumStatisticsReceiver(StatisticsReceiver):
    """``statistics`` of ``ethereum_metrics`` -> ``EthereumStatistics`` rows."""

    model = EthereumStatistics

    def row_fields(self, body: dict[str, Any]) -> dict[str, Any]:
        if "syncing" not in body:
            raise InvalidBody("syncing: missing")
        syncing = body["syncing"]
        blocks: dict[str, int | None] = dict.fromkeys(("current_block", "highest_block", "starting_block"))
        if isinstance(syncing, dict):
            blocks = {
                "current_block": quantity(syncing, "currentBlock"),
                "highest_block": quantity(syncing, "highestBlock"),
                "starting_block": quantity(syncing, "startingBlock"),
            }
        return {
            "active": flag(body, "active"),
            "mining": flag(body, "mining"),
            "hashrate": quantity(body, "hashrate"),
            "peers": quantity(body, "peers", maximum=INT_MAX),
            "gas_price": quantity(body, "gasPrice"),
            **blocks,
        }


class SystemStatisticsReceiver(StatisticsReceiver):
    """``statistics`` of ``system_metrics`` -> ``SystemStatistics`` rows."""

    model = SystemStatistics

    def row_fields(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "cpu_load": percentage(body, "cpu_load"),
            "disk_usage": percentage(body, "disk_usage"),
            "memory_usage": percentage(body, "memory_usage"),
        }
