"""Server connections that write once per event-loop turn, not once per writability event.

Twisted's TCP transport buffers each ``write`` and asks the reactor to watch the socket for
writability; on the asyncio reactor that is an ``epoll_ctl`` to watch, a loop turn to learn
the socket is writable (it nearly always is), the ``send``, and another ``epoll_ctl`` to stop
watching. Three system calls per flush, each one a moment the event loop hands the
interpreter to another thread and waits to get it back: at the WebSocket max rate, with
every answer and every dashboard frame a write, the watch alone was 6 % of the loop.

Here a connection with data to write schedules one flush at the end of the current turn: all
that turn's writes to it (a batch of dashboard frames, several answers) go in one ``send``.
Only a socket that cannot take everything is watched, as before, until it drained; the
producer pause (a slow reader), ``loseConnection`` after the buffer and TLS all run through
Twisted's own ``doWrite``, unchanged.
"""

from twisted.internet import tcp
from twisted.python.log import callWithLogger


class TurnFlushedServer(tcp.Server):
    """``tcp.Server`` whose buffered writes are sent at the end of the loop turn."""

    _flush_due = False

    def startWriting(self) -> None:
        loop = getattr(self.reactor, "_asyncioEventloop", None)
        if loop is None or self in self.reactor._writers:  # not asyncio, or already watched
            super().startWriting()
            return
        if not self._flush_due:
            self._flush_due = True
            loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_due = False
        if not self.connected or self._aborting or self in self.reactor._writers:
            return  # gone, dropped with its buffer (abortConnection), or flushed when writable
        # As the reactor does on a writability event: doWrite, then a failure or the end of
        # a loseConnection closes the connection.
        callWithLogger(self, self.reactor._readOrWrite, self, False)
        if self.connected and self._has_unsent_data():
            super().startWriting()  # the socket is full: watch it until it drained

    def _has_unsent_data(self) -> bool:
        return len(self.dataBuffer) > self.offset or bool(self._tempDataLen)


def install() -> None:
    """Every TCP listener this process opens from now on (Daphne's, adopted ones) uses it."""
    tcp.Port.transport = TurnFlushedServer
