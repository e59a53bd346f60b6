"""The control interface between the signalling process and a media worker.

One message model for both sides: the supervisor (`pool.py`) sends *commands*, each
with an `id`; the worker sends back exactly one *answer* per command id, and pushes
*notifications* (no id) when something happens on its own. On the wire every message
is one JSON object in a frame: a 4-byte big-endian length, then the UTF-8 JSON. JSON
rather than msgpack because control traffic is a few messages per call, not per
packet: the relay's cost is all in RTP, and JSON keeps the channel readable in a
capture and speakable by another implementation (an rtpengine-style scale-out).

Everything here is plain data: `FrameDecoder` is sans-IO, so both sides and the
tests use the same code with or without sockets.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import struct
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

MAX_FRAME = 1 << 20  # 1 MiB: far above any real command, small enough to refuse cheaply
_LENGTH = struct.Struct("!I")


class ControlError(ValueError):
    """A frame or message that breaks the control protocol."""


# ---- commands ------------------------------------------------------------------------


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CodecSpec(_Message):
    pt: Annotated[int, Field(ge=0, le=127)]
    name: Annotated[str, Field(min_length=1, max_length=32)]


class Remote(_Message):
    host: Annotated[str, Field(min_length=1, max_length=64)]
    port: Annotated[int, Field(ge=1, le=65535)]

    @field_validator("host")
    @classmethod
    def _ipv4_literal(cls, value: str) -> str:
        # the latch compares addresses as the socket reports them: no names, no IPv6 yet
        try:
            return _canonical_ipv4(value)
        except ValueError:
            raise ValueError("must be an IPv4 address") from None


@functools.lru_cache(maxsize=1024)  # a few per call setup, the same phones' addresses
def _canonical_ipv4(value: str) -> str:
    return str(ipaddress.IPv4Address(value))


class _Command(_Message):
    id: Annotated[int, Field(ge=0, strict=True)]


class CreateEndpoint(_Command):
    op: Literal["create_endpoint"] = "create_endpoint"
    codecs: Annotated[list[CodecSpec], Field(min_length=1, max_length=16)]
    remote: Remote | None = None
    rtp_timeout: Annotated[float, Field(ge=0, le=86400)] = 0.0
    stats_interval: Annotated[float, Field(ge=0, le=86400)] = 0.0
    rtcp_interval: Annotated[float, Field(ge=0.1, le=60)] = 5.0
    label: Annotated[str, Field(max_length=128)] = ""


class ModifyEndpoint(_Command):
    op: Literal["modify_endpoint"] = "modify_endpoint"
    endpoint: str
    codecs: Annotated[list[CodecSpec], Field(min_length=1, max_length=16)] | None = None
    remote: Remote | None = None
    rtp_timeout: Annotated[float, Field(ge=0, le=86400)] | None = None
    muted: bool | None = None  # True: what the phone sends is dropped, not relayed


class DeleteEndpoint(_Command):
    op: Literal["delete_endpoint"] = "delete_endpoint"
    endpoint: str


class Bridge(_Command):
    op: Literal["bridge"] = "bridge"
    a: str
    b: str


class Unbridge(_Command):
    op: Literal["unbridge"] = "unbridge"
    endpoint: str


class Loopback(_Command):
    """Send what the endpoint receives back to its own phone (the echo test); it
    leaves any bridge or mix. Unbridge (or a new bridge) ends it."""

    op: Literal["loopback"] = "loopback"
    endpoint: str


class MixMember(_Message):
    endpoint: str
    # the members this one hears; None: every other member. A member never hears itself.
    hears: Annotated[list[str], Field(max_length=256)] | None = None


class Mix(_Command):
    """Define mix `mix` (the caller's number for it): its members and who hears whom.

    A later `mix` with the same number redefines it (a supervisor joins, a whisper
    turns into a barge); members left out leave it. An endpoint in a mix is unbridged
    and belongs to one mix at most."""

    op: Literal["mix"] = "mix"
    mix: Annotated[int, Field(ge=0)]
    members: Annotated[list[MixMember], Field(min_length=1, max_length=256)]


class Unmix(_Command):
    op: Literal["unmix"] = "unmix"
    mix: Annotated[int, Field(ge=0)]


_Source = Annotated[str, Field(min_length=1, max_length=1024)]


class Play(_Command):
    """Play a source, or a playlist of them in order, to one endpoint (see `sources.py`).

    `playback` is the caller's number for this playback: the worker repeats it in the
    `playback_ended` notification, so an answer and its end can never be confused."""

    op: Literal["play"] = "play"
    endpoint: str
    source: _Source | Annotated[list[_Source], Field(min_length=1, max_length=64)]
    loop: bool = False
    playback: Annotated[int, Field(ge=0)] = 0
    gain_db: Annotated[float, Field(ge=-60, le=20)] = 0.0  # -60: silence


class Stop(_Command):
    op: Literal["stop"] = "stop"
    endpoint: str


class Record(_Command):
    """Record what the endpoints' phones send, mixed, into a new mono WAV at `path`.

    `recording` is the caller's number for it, repeated in `recording_ended`. The
    recording stops with `stop_record`, when its endpoints are all deleted, after
    `max_seconds`, or after `silence_seconds` of silence (0: no such limit)."""

    op: Literal["record"] = "record"
    endpoints: Annotated[list[str], Field(min_length=1, max_length=16)]
    path: Annotated[str, Field(min_length=1, max_length=1024)]
    recording: Annotated[int, Field(ge=0)] = 0
    rate: Literal[8000, 16000] = 8000
    max_seconds: Annotated[float, Field(ge=0, le=86400)] = 0.0
    silence_seconds: Annotated[float, Field(ge=0, le=3600)] = 0.0


class StopRecord(_Command):
    op: Literal["stop_record"] = "stop_record"
    recording: Annotated[int, Field(ge=0)]


class RecordJoin(_Command):
    """Add what one more endpoint's phone sends to a running recording (a party that
    joins a recorded conference). Joining twice changes nothing; a recording takes at
    most 16 endpoints."""

    op: Literal["record_join"] = "record_join"
    recording: Annotated[int, Field(ge=0)]
    endpoint: str


class SendDtmf(_Command):
    op: Literal["send_dtmf"] = "send_dtmf"
    endpoint: str
    digits: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[0-9*#A-Da-d]+$")]
    duration_ms: Annotated[int, Field(ge=40, le=5000)] = 100


class QueryStats(_Command):
    op: Literal["query_stats"] = "query_stats"
    endpoint: str | None = None  # None: the worker's own figures and every endpoint


Command = Annotated[
    CreateEndpoint
    | ModifyEndpoint
    | DeleteEndpoint
    | Bridge
    | Unbridge
    | Loopback
    | Mix
    | Unmix
    | Play
    | Stop
    | Record
    | StopRecord
    | RecordJoin
    | SendDtmf
    | QueryStats,
    Field(discriminator="op"),
]
_COMMAND: TypeAdapter[Command] = TypeAdapter(Command)


# ---- answers and notifications -------------------------------------------------------

# error codes of answers
BAD_REQUEST = "bad_request"
NOT_FOUND = "not_found"
NO_PORTS = "no_ports"
NOT_IMPLEMENTED = "not_implemented"
CONFLICT = "conflict"
INTERNAL = "internal"


class Answer(_Message):
    id: int | None  # None only when a malformed command carried no readable id
    ok: bool
    result: dict[str, Any] = {}
    error: str | None = None
    detail: str | None = None


class Notification(_Message):
    event: Literal["dtmf", "playback_ended", "recording_ended", "rtp_timeout", "endpoint_stats"]
    endpoint: str
    data: dict[str, Any] = {}


def ok(command_id: int, **result: Any) -> Answer:
    return Answer(id=command_id, ok=True, result=result)


def failed(command_id: int | None, error: str, detail: str) -> Answer:
    return Answer(id=command_id, ok=False, error=error, detail=detail)


def parse_command(frame: bytes) -> Command | Answer:
    """A command, or the error answer a malformed one gets (with its id when readable)."""
    try:
        return _COMMAND.validate_json(frame)
    except ValidationError as exc:
        command_id = _readable_id(frame)
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return failed(command_id, BAD_REQUEST, f"{where}: {first['msg']}"[:300])


def _readable_id(frame: bytes) -> int | None:
    try:
        data = json.loads(frame)
    except ValueError:
        return None
    value = data.get("id") if isinstance(data, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_from_worker(frame: bytes) -> Answer | Notification:
    try:
        data = json.loads(frame)
        if isinstance(data, dict) and "event" in data:
            return Notification.model_validate(data)
        return Answer.model_validate(data)
    except (ValueError, ValidationError) as exc:
        raise ControlError(f"unreadable message from worker: {exc}") from exc


# ---- framing -------------------------------------------------------------------------


def encode(message: BaseModel) -> bytes:
    body = message.model_dump_json(exclude_defaults=False).encode()
    if len(body) > MAX_FRAME:
        raise ControlError(f"message of {len(body)} bytes exceeds the frame limit")
    return _LENGTH.pack(len(body)) + body


class FrameDecoder:
    """Bytes in, whole frames out; an oversized length is a protocol error, not a buffer."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self._buffer = bytearray()
        self._max_frame = max_frame

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        frames: list[bytes] = []
        while len(self._buffer) >= 4:
            (length,) = _LENGTH.unpack_from(self._buffer)
            if length > self._max_frame:
                raise ControlError(f"frame of {length} bytes exceeds {self._max_frame}")
            if len(self._buffer) < 4 + length:
                break
            frames.append(bytes(self._buffer[4 : 4 + length]))
            del self._buffer[: 4 + length]
        return frames
