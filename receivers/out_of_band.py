"""Out-of-band messages: something for receivers outside the metric flow, sent by an operator.

The admin's *Receivers* action "Send an out-of-band message" calls ``send``. With
``REDIS_URL`` the message is published to every server process (each one's running
receivers get it through ``handle_out_of_band``); embedded, it goes to this process's.
"""

import json
import logging
from typing import Any

from django.conf import settings

from poa_backend.core.conf import poa_settings
from poa_backend.core.lifecycle import Loop
from poa_backend.core.signals import out_of_band_message

logger = logging.getLogger(__name__)


def channel() -> str:
    return f"{poa_settings.REDIS_PREFIX}:out-of-band"


def send(payload: Any, receivers: list[str] | None = None) -> None:
    """Hand ``payload`` (JSON) to the named running receivers (None: all) of every process."""
    if not settings.REDIS_URL:
        deliver(payload, receivers)
        return
    import redis

    with redis.Redis.from_url(settings.REDIS_URL) as client:
        client.publish(channel(), json.dumps({"payload": payload, "receivers": receivers}))


def deliver(payload: Any, receivers: list[str] | None) -> None:
    """Fire the signal in this process, once per named receiver (or once for all)."""
    for name in receivers or [None]:
        out_of_band_message.send(sender=None, payload=payload, receiver=name)


class Subscriber:
    """This process's subscription to the out-of-band channel (with ``REDIS_URL``)."""

    def __init__(self) -> None:
        self._pubsub: Any = None
        self._loop = Loop("receivers-out-of-band", self._step, 0, error_pause=1.0)

    def start(self, **kwargs: object) -> None:
        if settings.REDIS_URL:
            self._loop.start()

    def stop(self, **kwargs: object) -> None:
        self._loop.stop()
        if self._pubsub is not None:
            self._pubsub.close()
            self._pubsub = None

    def _step(self) -> None:
        if self._pubsub is None:
            import redis

            self._pubsub = redis.Redis.from_url(settings.REDIS_URL).pubsub(ignore_subscribe_messages=True)
            self._pubsub.subscribe(channel())
        try:
            message = self._pubsub.get_message(timeout=1.0)
        except Exception:
            self._pubsub = None  # subscribe again at the next step
            raise
        if message is not None:
            sent = json.loads(message["data"])
            deliver(sent["payload"], sent["receivers"])


subscriber = Subscriber()
