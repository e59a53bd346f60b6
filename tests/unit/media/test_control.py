from __future__ import annotations

import json
import struct

import pytest

from kilopbx.media import control as c


def _frame(obj: object) -> bytes:
    body = json.dumps(obj).encode()
    return struct.pack("!I", len(body)) + body


def test_commands_round_trip_through_frames() -> None:
    command = c.CreateEndpoint(
        id=4, codecs=[c.CodecSpec(pt=0, name="PCMU")], remote=c.Remote(host="127.0.0.1", port=4000)
    )
    decoder = c.FrameDecoder()
    wire = c.encode(command) + c.encode(c.QueryStats(id=5))
    frames = [f for i in range(len(wire)) for f in decoder.feed(wire[i : i + 1])]
    assert [c.parse_command(f) for f in frames] == [command, c.QueryStats(id=5)]


def test_answers_and_notifications_parse_on_the_pool_side() -> None:
    answer = c.ok(3, endpoint="e1", port=20000)
    note = c.Notification(event="dtmf", endpoint="e1", data={"digit": "5"})
    decoder = c.FrameDecoder()
    frames = decoder.feed(c.encode(answer) + c.encode(note))
    assert [c.parse_from_worker(f) for f in frames] == [answer, note]
    with pytest.raises(c.ControlError):
        c.parse_from_worker(b"[1,2]")
    with pytest.raises(c.ControlError):
        c.parse_from_worker(b"{not json")


@pytest.mark.parametrize(
    ("message", "expected_id"),
    [
        ({"id": 7, "op": "explode"}, 7),
        ({"id": 8, "op": "bridge", "a": "x"}, 8),
        ({"id": 9, "op": "query_stats", "surprise": 1}, 9),
        ({"id": 10, "op": "create_endpoint", "codecs": []}, 10),
        ({"id": 11, "op": "create_endpoint", "codecs": [{"pt": 500, "name": "PCMU"}]}, 11),
        (
            {
                "id": 12,
                "op": "create_endpoint",
                "codecs": [{"pt": 0, "name": "PCMU"}],
                "remote": {"host": "evil.example", "port": 1},
            },
            12,
        ),
        ({"id": 13, "op": "send_dtmf", "endpoint": "e", "digits": "12x"}, 13),
        ({"op": "query_stats"}, None),
        ({"id": True, "op": "query_stats"}, None),
        ([1, 2, 3], None),
        ("just a string", None),
    ],
)
def test_malformed_commands_get_an_error_answer(message: object, expected_id: int | None) -> None:
    answer = c.parse_command(json.dumps(message).encode())
    assert isinstance(answer, c.Answer)
    assert (answer.ok, answer.error, answer.id) == (False, c.BAD_REQUEST, expected_id)
    assert answer.detail


def test_garbage_bytes_get_an_error_answer() -> None:
    for junk in (b"", b"\xff\xfe", b"{" * 10000):
        answer = c.parse_command(junk)
        assert isinstance(answer, c.Answer) and not answer.ok and answer.id is None


def test_oversized_frame_is_refused_before_buffering() -> None:
    decoder = c.FrameDecoder(max_frame=1000)
    with pytest.raises(c.ControlError):
        decoder.feed(struct.pack("!I", 1001))
    assert c.FrameDecoder().feed(_frame({"a": 1})[:-1]) == []


def test_media_application_commands_parse() -> None:
    for raw in (
        {"id": 1, "op": "play", "endpoint": "e", "source": "tone:busy"},
        {"id": 2, "op": "record", "endpoints": ["e"], "path": "/tmp/x.wav", "recording": 3},
        {"id": 3, "op": "mix", "mix": 1, "members": [{"endpoint": "e"}, {"endpoint": "f"}]},
        {"id": 4, "op": "stop", "endpoint": "e"},
        {"id": 5, "op": "stop_record", "recording": 3},
        {"id": 6, "op": "unmix", "mix": 1},
    ):
        assert not isinstance(c.parse_command(json.dumps(raw).encode()), c.Answer)
    for bad in (
        {"id": 7, "op": "mix", "endpoints": ["e", "f"]},
        {"id": 8, "op": "mix", "mix": 1, "members": []},
        {"id": 9, "op": "mix", "mix": -1, "members": [{"endpoint": "e"}]},
        {"id": 10, "op": "record", "endpoints": [], "path": "/tmp/x.wav"},
        {"id": 11, "op": "record", "endpoints": ["e"], "path": "/tmp/x.wav", "rate": 44100},
        {"id": 12, "op": "record", "endpoints": ["e"], "path": "/x.wav", "max_seconds": -1},
        {"id": 13, "op": "stop_record"},
    ):
        answer = c.parse_command(json.dumps(bad).encode())
        assert isinstance(answer, c.Answer) and answer.error == c.BAD_REQUEST
