"""The dashboard feed's frames, framed by our server in one write per batch: byte for byte what
an independent WebSocket implementation (the ``websockets`` library) reads, at every length
encoding's boundary, live and in isolation."""

import asyncio

import pytest
from autobahn.exception import PayloadExceededError
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from poa_backend.server import text_frames
from tests.dashboard_support import dashboard, expected_frame, inject, message, receive

pytest_plugins = ["tests.dashboard_fixtures"]

#: Payload lengths around the 7-bit, 16-bit and 64-bit length encodings.
SIZES = [0, 1, 125, 126, 127, 65535, 65536, 70000]


def parsed(data: bytes) -> list[Frame]:
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    frames = []
    while reader.buffer:
        parser = Frame.parse(reader.read_exact, mask=False)
        try:
            next(parser)
        except StopIteration as done:
            frames.append(done.value)
        else:
            raise AssertionError("a frame was cut short")
    return frames


def test_text_frames_read_back_as_the_texts_in_order():
    texts = ["x" * size for size in SIZES] + ["nœud été 名前", "\U0001f600" * 40]
    frames = parsed(text_frames(texts))
    assert [(frame.opcode, frame.fin, frame.data.decode()) for frame in frames] == [
        (Opcode.TEXT, True, text) for text in texts
    ]


def test_each_length_takes_its_shortest_encoding():
    """RFC 6455 5.2: the minimal number of bytes must be used to encode the length."""
    headers = {size: len(text_frames(["x" * size])) - size for size in SIZES}
    assert headers == {0: 2, 1: 2, 125: 2, 126: 4, 127: 4, 65535: 4, 65536: 10, 70000: 10}


def test_a_frame_over_the_limit_is_refused_as_autobahn_refuses_it():
    text_frames(["x" * 100], max_payload=100)
    with pytest.raises(PayloadExceededError):
        text_frames(["ok", "x" * 101], max_payload=100)


@pytest.mark.usefixtures("live_db")
def test_a_dashboard_reads_frames_of_every_length_encoding_in_order(feed_rows, live_backend):
    backend = live_backend()
    overhead = len(expected_frame("node-a", {"type": "custom", "body": ""}))
    items = [
        message("node-a", {"type": "custom", "body": "x" * max(size - overhead, 0)}) for size in SIZES
    ] + [message("nœud-été", {"type": "custom", "body": "名前"})]
    expected = [expected_frame(item["agent_id"], item["data"]) for item in items]
    assert {len(frame.encode()) for frame in expected} >= {125, 126, 65535, 65536}

    async def scenario():
        async with dashboard(backend) as socket:
            await asyncio.to_thread(inject, backend, *items)
            return await receive(socket, len(items))

    assert asyncio.run(scenario()) == expected
