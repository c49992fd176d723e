"""DynamoDB block storage: every ``block`` message as one item of a DynamoDB table.

An item is ``{"agent_id", "msg_time", "msg_type": "block", "payload": {"block": body}}``
with the body's ``transactions`` and ``uncles`` left out. ``agent_id`` (partition
key) and ``msg_time`` (sort key: ISO-8601 UTC with microseconds, when the backend
received the block, distinct per agent) are the table's key.

Nothing is dropped because DynamoDB is down or throttling: the receiver is
durable (its messages wait in a spool on disk) and a batch is retried with capped
exponential backoff and jitter until it is written. That blocks only this
receiver's own worker; meanwhile its spool grows (and, when full, refuses new
messages at the handler). An item DynamoDB itself rejects as invalid raises
``InvalidRequest``, which the dispatcher keeps as a dead letter. Writes are
idempotent: an item written again has the same key and replaces itself.
"""

import logging
import random
import re
from decimal import Decimal, DecimalException
from typing import Any

import boto3
from boto3.dynamodb.types import DYNAMODB_CONTEXT, TypeSerializer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError
from django.core.exceptions import ValidationError

from poa_backend.core.message import Message
from poa_backend.core.receiver import ReceiverPlugin
from receivers.received_time import accepted_at

logger = logging.getLogger(__name__)

TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
#: BatchWriteItem takes at most 25 put requests.
WRITE_CHUNK = 25
#: Errors about the request itself: retrying the same items would never succeed.
INVALID_REQUEST = {"ValidationException", "SerializationException"}
DROPPED_BLOCK_FIELDS = ("transactions", "uncles")


class InvalidRequest(Exception):
    """DynamoDB (or the client) rejects the request itself: retrying it as is can never succeed."""


def number(value: int | float) -> Decimal | str:
    """A DynamoDB Number when it holds the value exactly (38 digits, limited exponent), else the text."""
    text = repr(value)  # for a float: the shortest text that reads back as the same float
    try:
        exact = DYNAMODB_CONTEXT.create_decimal(text)
    except DecimalException:  # too many digits, too large or too small
        return text
    return exact if exact.is_finite() else text  # NaN and infinity have no Number form


def to_dynamodb(value: Any) -> Any:
    """A JSON-like value in DynamoDB's types without loss: numbers as exact Decimals or their text."""
    if isinstance(value, dict):
        return {str(key): to_dynamodb(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_dynamodb(item) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, str | bytes):
        return value
    if isinstance(value, int | float):
        return number(value)
    return str(value)


def block_item(message: Message, msg_time: str) -> dict[str, Any] | None:
    """The item a ``block`` message becomes (in DynamoDB's types), or None when it is not a block."""
    data = message.data
    if not isinstance(data, dict) or data.get("type") != "block":
        return None
    body = data.get("body")
    if not isinstance(body, dict) or not isinstance(body.get("hash"), str) or "number" not in body:
        return None
    block = {key: value for key, value in body.items() if key not in DROPPED_BLOCK_FIELDS}
    return {
        "agent_id": message.agent_id,
        "msg_time": msg_time,
        "msg_type": "block",
        "payload": to_dynamodb({"block": block}),
    }


def _string_option(options: dict[str, Any], key: str, required: bool = False) -> None:
    value = options.get(key)
    if value is None and not required:
        return
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{key}: must be a non-empty string")


def _number_option(options: dict[str, Any], key: str) -> None:
    value = options.get(key)
    if value is None:
        return
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= 3600:
        raise ValidationError(f"{key}: must be a number of seconds above 0, at most 3600")


class DynamoDBBlockReceiver(ReceiverPlugin):
    """Writes ``block`` messages to a DynamoDB table with BatchWriteItem, retrying until written."""

    #: Seconds before the first retry and the cap the doubling stops at (options may override).
    retry_initial_delay = 0.2
    retry_max_delay = 30.0
    durable = True
    kinds = frozenset({"block"})

    @classmethod
    def clean_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        options = super().clean_options(options)
        table_name = options.get("table_name")
        if not isinstance(table_name, str) or not TABLE_NAME.match(table_name):
            raise ValidationError("table_name: 3 to 255 letters, digits, '_', '-' or '.'")
        _string_option(options, "region")
        endpoint_url = options.get("endpoint_url")
        if endpoint_url is not None and (
            not isinstance(endpoint_url, str) or not re.match(r"^https?://[^\s/]+", endpoint_url)
        ):
            raise ValidationError("endpoint_url: must be an http:// or https:// URL")
        _string_option(options, "aws_access_key_id")
        _string_option(options, "aws_secret_access_key")
        if ("aws_access_key_id" in options) != ("aws_secret_access_key" in options):
            raise ValidationError(
                "aws_access_key_id and aws_secret_access_key: give both or neither "
                "(neither: the standard AWS environment variables and credential chain apply)"
            )
        if not isinstance(options.get("create_table", False), bool):
            raise ValidationError("create_table: must be true or false")
        _number_option(options, "retry_initial_delay")
        _number_option(options, "retry_max_delay")
        return options

    def __init__(self, name: str, options: dict[str, Any] | None = None) -> None:
        super().__init__(name, options)
        self.table_name: str = self.options["table_name"]
        self.create_table: bool = self.options.get("create_table", False)
        self.initial_delay = float(self.options.get("retry_initial_delay", self.retry_initial_delay))
        self.max_delay = float(self.options.get("retry_max_delay", self.retry_max_delay))
        self.client: Any = None
        self._table_checked = False
        self._serialize = TypeSerializer().serialize
        #: Figures for operators.
        self.written = 0  # items DynamoDB accepted
        self.skipped = 0  # messages that were not valid blocks
        self.retries = 0  # attempts repeated after an outage, throttling or unprocessed items
        self.errors = 0  # failed attempts (each is retried)

    def figures(self) -> dict[str, float]:
        return {
            "written": self.written,
            "skipped": self.skipped,
            "retries": self.retries,
            "errors": self.errors,
        }

    def setup(self) -> None:
        """Build the client only: no network here, so an outage at start loses nothing."""
        credentials = {}
        if "aws_access_key_id" in self.options:
            credentials = {
                "aws_access_key_id": self.options["aws_access_key_id"],
                "aws_secret_access_key": self.options["aws_secret_access_key"],
            }
        self.client = boto3.session.Session().client(
            "dynamodb",
            region_name=self.options.get("region"),
            endpoint_url=self.options.get("endpoint_url"),
            # One attempt per call: this receiver does the retrying, so it can count and never give up.
            config=Config(
                retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=20
            ),
            **credentials,
        )

    def handle_messages(self, messages: list[Message]) -> None:
        requests = []
        for message in messages:
            item = self._item(message)
            if item is None:
                self.skipped += 1
                continue
            requests.append({"PutRequest": {"Item": item}})
        for start in range(0, len(requests), WRITE_CHUNK):
            self._write(requests[start : start + WRITE_CHUNK])

    def terminate(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    # Writing.

    def _item(self, message: Message) -> dict[str, Any] | None:
        """The wire form of the message's item, or None (logged at debug) when it is not a block."""
        if not isinstance(message.agent_id, str) or not message.agent_id:
            return None
        when = accepted_at(message)  # distinct per agent (the dispatcher's acceptance clock)
        item = block_item(message, when.isoformat(timespec="microseconds"))
        if item is None:
            logger.debug("%s: skipped a message of agent %r: not a block", self.name, message.agent_id)
            return None
        try:
            return {key: self._serialize(value) for key, value in item.items()}
        except (TypeError, ValueError, DecimalException) as exc:
            logger.debug("%s: skipped a block of agent %r: %s", self.name, message.agent_id, exc)
            return None

    def _write(self, requests: list[dict[str, Any]]) -> None:
        """Write one chunk with BatchWriteItem, retrying until every item is written; raises
        ``InvalidRequest`` when DynamoDB rejects the request (the dispatcher finds the bad item)."""
        attempt = 0
        while requests:
            self._pause(attempt)
            attempt += 1
            response = self._try(self.client.batch_write_item, RequestItems={self.table_name: requests})
            if response is None:
                continue
            unprocessed = response.get("UnprocessedItems", {}).get(self.table_name, [])
            self.written += len(requests) - len(unprocessed)
            requests = unprocessed

    def _try(self, operation: Any, **kwargs: Any) -> dict[str, Any] | None:
        """One call; None after a failure worth retrying (counted), InvalidRequest when it never will."""
        try:
            self._ensure_table()
            return operation(**kwargs)
        except ParamValidationError as exc:
            raise InvalidRequest(str(exc))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in INVALID_REQUEST:
                raise InvalidRequest(str(exc))
            if code == "ResourceNotFoundException":
                self._table_checked = False
            failure: Exception = exc
        except BotoCoreError as exc:  # connection refused or reset, timeouts, a table that never came up
            failure = exc
        self.errors += 1
        logger.warning("%s: DynamoDB write failed (%d so far), retrying: %s", self.name, self.errors, failure)
        return None

    def _pause(self, attempt: int) -> None:
        """Nothing before the first attempt; then a doubling delay, capped, with jitter (half to
        all of it) so many processes coming back from one outage do not retry in step."""
        if attempt:
            self.retries += 1
            delay = min(self.max_delay, self.initial_delay * 2 ** min(attempt - 1, 30))
            self.wait(delay * random.uniform(0.5, 1.0))

    def _ensure_table(self) -> None:
        """With ``create_table``, create the table when it is missing (again after it vanished)."""
        if self._table_checked or not self.create_table:
            return
        try:
            self.client.describe_table(TableName=self.table_name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            try:
                self.client.create_table(
                    TableName=self.table_name,
                    KeySchema=[
                        {"AttributeName": "agent_id", "KeyType": "HASH"},
                        {"AttributeName": "msg_time", "KeyType": "RANGE"},
                    ],
                    AttributeDefinitions=[
                        {"AttributeName": "agent_id", "AttributeType": "S"},
                        {"AttributeName": "msg_time", "AttributeType": "S"},
                    ],
                    BillingMode="PAY_PER_REQUEST",
                )
                logger.info("%s: created DynamoDB table %s", self.name, self.table_name)
            except ClientError as create_exc:
                if create_exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
                    raise
            self.client.get_waiter("table_exists").wait(
                TableName=self.table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
        self._table_checked = True
