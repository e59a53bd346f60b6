"""Plain-socket checks shared by the connection-flood tests."""

from __future__ import annotations

import socket


def closed_by_peer(sock: socket.socket) -> bool:
    """Has the PBX closed (or reset) this connection? Never blocks."""
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        sock.setblocking(True)
