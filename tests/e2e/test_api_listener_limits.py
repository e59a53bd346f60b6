"""Silent connections from one address cannot take every waiting slot of the API."""

from __future__ import annotations

import select
import socket
import time

from kilopbx.api.http_listener import MAX_SNIFFING_PER_ADDRESS
from tests.harness import PbxProcess

EXTRA = 8


def test_connections_beyond_the_per_address_cap_are_closed_at_once(pbx: PbxProcess) -> None:
    silent: list[socket.socket] = []
    try:
        for _ in range(MAX_SNIFFING_PER_ADDRESS + EXTRA):
            sock = socket.socket()
            sock.bind(("127.0.0.9", 0))
            sock.connect(("127.0.0.1", pbx.http_port))
            silent.append(sock)
        # the extra ones are closed by the PBX long before the first-byte timeout
        closed: set[socket.socket] = set()
        deadline = time.monotonic() + 3.0
        while len(closed) < EXTRA and time.monotonic() < deadline:
            readable, _, _ = select.select([s for s in silent if s not in closed], [], [], 0.1)
            closed.update(s for s in readable if s.recv(1) == b"")
        assert len(closed) == EXTRA
        # and another address is served as usual meanwhile
        assert pbx.api("deviceinfo/query", token=pbx.login())["status"] == "Success"
    finally:
        for sock in silent:
            sock.close()
