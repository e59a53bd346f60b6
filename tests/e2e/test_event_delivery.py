"""Event delivery to real receivers: HTTP and TCP methods, outages, crashes, formats."""

from __future__ import annotations

import socket
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from kilopbx.events.tcp_server import MAX_CLIENTS
from tests.harness import API_PASSWORD, API_USER, EventReceiver, PbxProcess, free_port

PASSWORD = "Kp7xQm2vLr9tWz4N"


def add_extension(pbx: PbxProcess, token: str, number: str) -> None:
    body = {
        "number": number,
        "username": f"User {number}",
        "registername": f"u{number}",
        "registerpassword": PASSWORD,
    }
    answer = pbx.api("extension/add", body, token=token)
    assert answer == {"status": "Success"}, answer


def config_changes(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e.get("event", e.get("action")) == "ConfigChange"]


def outbox_size(pbx: PbxProcess) -> int:
    db = sqlite3.connect(f"file:{pbx.data_dir / 'kilopbx.db'}?mode=ro", uri=True, timeout=5)
    try:
        return int(db.execute("SELECT COUNT(*) FROM event_outbox").fetchone()[0])
    finally:
        db.close()


def test_config_change_reaches_receiver_with_contract_headers(
    pbx: PbxProcess, receiver: EventReceiver
) -> None:
    token = pbx.login(port=receiver.port, url="crm/events")
    add_extension(pbx, token, "4101")
    events = receiver.wait_for(lambda ev: config_changes(ev))
    change = config_changes(events)[0]
    assert change == {
        "event": "ConfigChange",
        "type": "extension",
        "extid": "4101",
        "operation": "add",
        "sn": change["sn"],
    }
    assert list(change) == ["event", "type", "extid", "operation", "sn"]
    path, headers = receiver.requests[-1]
    assert path == "/crm/events"
    assert headers["User-Agent"] == "WebAPI"
    assert headers["Content-Type"] == "application/json"
    assert headers["Accept"] == "application/json"
    assert headers["Host"] == f"127.0.0.1:{receiver.port}"


def test_absolute_url_and_legacy_format(pbx: PbxProcess, receiver: EventReceiver) -> None:
    # no version: the legacy format (key "action") is the default
    body = {
        "username": API_USER,
        "password": __import__("hashlib").md5(API_PASSWORD.encode()).hexdigest(),
        "url": f"127.0.0.1:{receiver.port}/abs/path",
        "urltag": "1",
        "port": "1",
    }
    token = pbx.api("login", body)["token"]
    add_extension(pbx, token, "4102")
    events = receiver.wait_for(lambda ev: config_changes(ev))
    assert config_changes(events)[0]["action"] == "ConfigChange"
    assert "event" not in config_changes(events)[0]
    assert receiver.requests[-1][0] == "/abs/path"


def test_receiver_down_for_a_while_gets_everything_once_in_order(
    pbx: PbxProcess,
) -> None:
    receiver = EventReceiver()  # not started: the receiver is down
    token = pbx.login(port=receiver.port)
    numbers = [str(4200 + i) for i in range(20)]
    for number in numbers:
        add_extension(pbx, token, number)
    deadline = time.monotonic() + 10
    while outbox_size(pbx) < len(numbers):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    receiver.start()
    try:
        events = receiver.wait_for(lambda ev: len(config_changes(ev)) >= len(numbers), 30)
        time.sleep(0.5)  # a duplicate would arrive right behind; give it the chance
        got = [e["extid"] for e in config_changes(receiver.events)]
        assert got == numbers, events
    finally:
        receiver.stop()


def test_kill_9_with_undelivered_events_delivers_them_after_restart(
    pbx: PbxProcess,
) -> None:
    receiver = EventReceiver()
    token = pbx.login(port=receiver.port)
    numbers = [str(4300 + i) for i in range(10)]
    for number in numbers:
        add_extension(pbx, token, number)
    deadline = time.monotonic() + 10
    while outbox_size(pbx) < len(numbers):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    pbx.kill9()
    receiver.start()
    try:
        pbx.start()
        events = receiver.wait_for(
            lambda ev: (
                len(config_changes(ev)) >= len(numbers)
                and any(e.get("event") == "BootUp" for e in ev)
            ),
            30,
        )
        assert [e["extid"] for e in config_changes(events)] == numbers
        # the stored events come first, then the BootUp of the new start
        assert events[-1]["event"] == "BootUp"
        assert sum(1 for e in events if e.get("event") == "BootUp") == 1
    finally:
        receiver.stop()


def test_bootup_after_restart_in_both_formats(
    make_pbx: Callable[..., PbxProcess],
) -> None:
    pbx = make_pbx()
    rx_v2, rx_legacy = EventReceiver().start(), EventReceiver().start()
    try:
        pbx.login(port=rx_v2.port)
        pbx.api(
            "login",
            {
                "username": API_USER,
                "password": __import__("hashlib").md5(API_PASSWORD.encode()).hexdigest(),
                "port": rx_legacy.port,
            },
        )
        pbx.restart()
        v2 = rx_v2.wait_for(lambda ev: ev)[0]
        legacy = rx_legacy.wait_for(lambda ev: ev)[0]
        assert v2 == {"event": "BootUp", "sn": v2["sn"]}
        assert legacy == {"action": "BootUp", "sn": v2["sn"]}
    finally:
        rx_v2.stop()
        rx_legacy.stop()


def test_same_target_from_two_sessions_gets_one_copy(
    pbx: PbxProcess, receiver: EventReceiver
) -> None:
    token = pbx.login(port=receiver.port)
    pbx.login(port=receiver.port)
    add_extension(pbx, token, "4401")
    receiver.wait_for(lambda ev: config_changes(ev))
    time.sleep(0.5)
    assert len(config_changes(receiver.events)) == 1


def test_heartbeat_moves_the_target(pbx: PbxProcess, receiver: EventReceiver) -> None:
    other = EventReceiver().start()
    try:
        token = pbx.login(port=receiver.port)
        assert pbx.api("heartbeat", {"port": other.port, "url": "/moved"}, token=token) == {
            "status": "Success"
        }
        add_extension(pbx, token, "4402")
        other.wait_for(lambda ev: config_changes(ev))
        assert other.requests[-1][0] == "/moved"
        assert not config_changes(receiver.events)
    finally:
        other.stop()


def test_logout_stops_delivery(pbx: PbxProcess, receiver: EventReceiver) -> None:
    watcher = pbx.login(port=receiver.port)
    actor = pbx.login(port=free_port())
    pbx.api("logout", token=watcher)
    add_extension(pbx, actor, "4403")
    time.sleep(0.5)
    assert not config_changes(receiver.events)


class BlockReader:
    """Reads CRLFCRLF-terminated blocks; bytes after a block stay for the next read
    (the login reply and BootUp often arrive in one segment)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def next(self) -> bytes:
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed; unread: {self.buffer!r}")
            self.buffer += chunk
        block, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        return block


def _tcp_login(
    port: int, secret: str, version: str = "2.0.0"
) -> tuple[socket.socket, BlockReader, bytes]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    block = (
        f"Action: login\r\nUsername: {API_USER}\r\nSecret: {secret}\r\nVersion: {version}\r\n\r\n"
    )
    sock.sendall(block.encode())
    reader = BlockReader(sock)
    return sock, reader, reader.next()


def test_tcp_event_transport(make_pbx: Callable[..., PbxProcess]) -> None:
    import json

    pbx = make_pbx({"KILOPBX_REPORT_METHOD": "TCP"})
    answer = pbx.api(
        "login",
        {
            "username": API_USER,
            "password": __import__("hashlib").md5(API_PASSWORD.encode()).hexdigest(),
        },
    )
    assert answer["transport"] == "TCP"
    bad, _, reply = _tcp_login(pbx.tcp_event_port, "wrong")
    assert reply.startswith(b"Response: Error")
    bad.close()
    sock, reader, reply = _tcp_login(pbx.tcp_event_port, API_PASSWORD)
    try:
        assert reply == b"Response: Success\r\nMessage: Authentication accepted"
        assert json.loads(reader.next())["event"] == "BootUp"
        sock.sendall(b"Action: ping\r\n\r\n")
        assert reader.next() == b"Response: Pong"
        add_extension(pbx, answer["token"], "4501")
        body = reader.next()
        assert json.loads(body) == {
            "event": "ConfigChange",
            "type": "extension",
            "extid": "4501",
            "operation": "add",
            "sn": json.loads(body)["sn"],
        }
    finally:
        sock.close()


def test_silent_connections_cannot_lock_tcp_event_clients_out(
    make_pbx: Callable[..., PbxProcess],
) -> None:
    pbx = make_pbx({"KILOPBX_REPORT_METHOD": "TCP"})
    silent = [
        socket.create_connection(
            ("127.0.0.1", pbx.tcp_event_port), timeout=5, source_address=("127.0.0.50", 0)
        )
        for _ in range(MAX_CLIENTS + 4)
    ]
    try:
        time.sleep(0.2)
        started = time.monotonic()
        sock, _reader, reply = _tcp_login(pbx.tcp_event_port, API_PASSWORD)
        sock.close()
        assert reply.startswith(b"Response: Success")
        assert time.monotonic() - started < 1.0
        # the silent ones paid: the oldest were closed to make room
        assert silent[0].recv(1) == b""
    finally:
        for held in silent:
            held.close()
