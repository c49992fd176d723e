"""The core intake's decoders and id rule, as every transport (REST, agent socket, ethstats) uses them."""

import json

import pytest

from poa_backend.core import intake


def refusal(function, *args):
    with pytest.raises(intake.Refusal) as info:
        function(*args)
    return info.value.reason


def deep(depth: int, inner: str = "0") -> str:
    return "[" * depth + inner + "]" * depth


def test_json_nesting_is_bounded_before_the_decoder_recurses():
    limit = intake.MAX_DECODE_DEPTH
    assert intake.decode_json(deep(limit)) == json.loads(deep(limit))
    assert refusal(intake.decode_json, deep(limit + 1)) == intake.MALFORMED
    assert refusal(intake.decode_json, deep(1_000_000).encode()) == intake.MALFORMED
    assert refusal(intake.decode_json, "[" * 100_000) == intake.MALFORMED  # unbalanced too
    mixed = '{"a": ' * (limit // 2) + deep(limit - limit // 2 + 1) + "}" * (limit // 2)
    assert refusal(intake.decode_json, mixed) == intake.MALFORMED


def test_brackets_inside_strings_do_not_count_as_nesting():
    text = json.dumps({"s": "[" * 5000, "t": '{"\\"[[[' * 1000, "n": [["]]]"]]})
    assert intake.decode_json(text) == json.loads(text)
    many_shallow = json.dumps([[i] for i in range(5000)])
    assert intake.decode_json(many_shallow) == json.loads(many_shallow)
    # An unterminated string runs to the end, as the decoder reads it: still malformed, never deep.
    assert refusal(intake.decode_json, '["abc\\"' + "[" * 1000) == intake.MALFORMED


@pytest.mark.parametrize(
    "payload",
    [b"", b"{", b'{"a": NaN}', b"[Infinity]", b"\xff\xfe{}", b'\xef\xbb\xbf{"a": 1}', b'{"a": 1} x', "[1,]"],
)
def test_malformed_json_is_one_reason(payload):
    assert refusal(intake.decode_json, payload) == intake.MALFORMED


def test_messagepack_stops_past_its_own_stack():
    assert intake.decode_msgpack(b"\x91" * 1024 + b"\x00") is not None
    assert refusal(intake.decode_msgpack, b"\x91" * 1025 + b"\x00") == intake.MALFORMED
    for payload in (b"\xc1", b"\x81\xa2id", b"\x81\xa2id\xa1a\x00", b"\xdd\xff\xff\xff\xff", b"\xa2\xff\xfe"):
        assert refusal(intake.decode_msgpack, payload) == intake.MALFORMED


def test_agent_ids():
    for good in ("a", "n" * intake.MAX_AGENT_ID_LENGTH, "nœud été", "enode://ab@10.0.0.1:30303", "\u00a0x"):
        assert intake.check_agent_id(good) == good
    for bad in (None, 7, "", "n" * 257, "a\nb", "\x00", "\x7f", "a\x9fb", "\ud800", "x\udfffy", ["a"]):
        assert refusal(intake.check_agent_id, bad) == intake.INVALID_ID, repr(bad)
    assert refusal(intake.agent_id, {}) == intake.MISSING_ID


def test_data_must_be_json_within_max_nesting():
    def nested(depth):
        value = 0
        for _ in range(depth):
            value = [value]
        return value

    intake.check_json_value({"a": nested(31)})
    assert refusal(intake.check_json_value, {"a": nested(32)}) == intake.TOO_DEEP
    assert refusal(intake.check_json_value, {"a": nested(100_000)}) == intake.TOO_DEEP
    for bad in ({"a": "\ud800"}, {"\udc00": 1}, {"a": b"x"}, {1: 2}, {"a": float("nan")}, {"a": {1, 2}}):
        assert refusal(intake.check_json_value, bad) == intake.DATA_NOT_JSON, repr(bad)


def test_subclasses_of_the_json_types_are_held_to_the_same_rules():
    """Decoders give exact types; a handler's own decoder may give subclasses (an OrderedDict,
    an IntEnum, a str subclass): they pass or fail as their base type would."""
    import enum
    from collections import OrderedDict

    class Text(str):
        pass

    class Level(enum.IntEnum):
        HIGH = 2

    def nested_in(kind, depth):
        value = 0
        for _ in range(depth):
            value = kind([("k", value)]) if kind is OrderedDict else kind([value])
        return value

    class Items(list):
        pass

    intake.check_json_value(
        OrderedDict(a=[Text("x"), Level.HIGH, 1.5, True, None], b=Items([{Text("k"): 1}]))
    )
    intake.check_json_value({"a": nested_in(OrderedDict, 31)})
    assert refusal(intake.check_json_value, {"a": nested_in(OrderedDict, 32)}) == intake.TOO_DEEP
    assert refusal(intake.check_json_value, {"a": nested_in(Items, 32)}) == intake.TOO_DEEP
    for bad in (
        OrderedDict(a=Text("\ud800")),
        {Text("\udc00"): 1},
        Items([float("inf")]),
        {"a": Items([b"x"])},
    ):
        assert refusal(intake.check_json_value, bad) == intake.DATA_NOT_JSON, repr(bad)


def test_size():
    intake.check_size(10, limit=10)
    assert refusal(intake.check_size, 11, 10) == intake.TOO_LARGE
