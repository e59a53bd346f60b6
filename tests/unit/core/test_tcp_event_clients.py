"""A TCP event client that stops reading is cut off instead of growing our memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kilopbx.events.render import render_once
from kilopbx.events.tcp_server import MAX_BUFFERED, TcpAuth, TcpEventServer, _Client
from kilopbx.events.types import BootUp
from kilopbx.events.versions import EventFormat


@dataclass
class FakeTransport:
    buffered: int
    aborted: bool = False

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def abort(self) -> None:
        self.aborted = True


@dataclass
class FakeWriter:
    transport: FakeTransport
    written: list[bytes] = field(default_factory=list)

    def is_closing(self) -> bool:
        return self.transport.aborted

    def write(self, data: bytes) -> None:
        self.written.append(data)


def server() -> TcpEventServer:
    nothing: Any = None
    auth = TcpAuth(nothing, nothing, nothing, nothing, nothing, nothing, nothing)
    return TcpEventServer("127.0.0.1", 0, auth, "SN")


def test_reading_client_gets_events_and_stuck_client_is_cut_off() -> None:
    events = server()
    reading = _Client(FakeWriter(FakeTransport(0)), event_format=EventFormat.V2)  # type: ignore[arg-type]
    stuck = _Client(FakeWriter(FakeTransport(MAX_BUFFERED + 1)), event_format=EventFormat.V2)  # type: ignore[arg-type]
    events._clients.update({reading, stuck})
    events.broadcast(render_once(BootUp(), "SN"))
    assert reading.writer.written == [b'{"event":"BootUp","sn":"SN"}\r\n\r\n']  # type: ignore[attr-defined]
    assert stuck.writer.transport.aborted  # type: ignore[attr-defined]
    assert events._clients == {reading}
