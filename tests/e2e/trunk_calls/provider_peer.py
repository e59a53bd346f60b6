"""A bare UDP provider for the trunk tests: it sends a provider's INVITE from its own
port (the address a peer trunk is configured with, or a wrong one) and reports the
final answer (ACKing it, and hanging up a 2xx at once)."""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Callable

from kilopbx.sip.message import SipRequest, SipResponse
from kilopbx.sip.parser import parse_message
from tests.e2e.calls.sip_client import SDP
from tests.harness import HOST, PbxProcess


class ProviderPeer:
    def __init__(self, pbx: PbxProcess, port: int = 0, *, host: str = HOST) -> None:
        self.pbx = pbx
        self.host = host  # another loopback address (127.0.0.3) is another sender
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.sock.settimeout(10.0)
        self.port = self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()

    def _send(self, text: str, body: bytes = b"") -> None:
        self.sock.sendto(text.encode() + body, (HOST, self.pbx.sip_port))

    def invite(
        self,
        did: str,
        caller: str,
        *,
        from_host: str = "carrier.test",
        headers: str = "",
        uri_user: str = "",
        to_user: str = "",
    ) -> SipResponse:
        """An INVITE to ``did`` (its Request-URI user is ``uri_user`` and its To user
        ``to_user`` when given, as some providers send) and its final answer."""
        request, branch, call_id = self._dialog(did, caller, from_host, uri_user, to_user)
        length = f"Content-Type: application/sdp\r\nContent-Length: {len(SDP)}\r\n\r\n"
        self._send(request("INVITE", 1, "", branch, headers + length), SDP)
        while True:  # (an earlier call's retransmitted answer is not this one's)
            message = parse_message(self.sock.recv(65535))
            if (
                isinstance(message, SipResponse)
                and message.status >= 200
                and message.headers.get("Call-ID") == call_id
            ):
                break
        to_tag = message.to.tag or ""
        empty = "Content-Length: 0\r\n\r\n"
        if message.status >= 300:
            self._send(request("ACK", 1, to_tag, branch, empty))
        else:
            self._send(request("ACK", 1, to_tag, secrets.token_hex(6), empty))
            self._send(request("BYE", 2, to_tag, secrets.token_hex(6), empty))
            for _ in range(20):  # the BYE's answer (bounded; the socket times out too)
                reply = parse_message(self.sock.recv(65535))
                if isinstance(reply, SipResponse) and reply.cseq[1] == "BYE":
                    break
        return message

    def invite_unanswered(
        self, did: str, caller: str, *, from_host: str = "carrier.test", wait: float = 2.0
    ) -> bool:
        """True when an INVITE gets no answer at all within ``wait`` seconds (not
        even 100 Trying): the sender is banned. Answers to earlier calls (a final
        answer retransmitted because our ACK was dropped) do not count."""
        request, branch, call_id = self._dialog(did, caller, from_host, "", "")
        length = f"Content-Type: application/sdp\r\nContent-Length: {len(SDP)}\r\n\r\n"
        self._send(request("INVITE", 1, "", branch, length), SDP)
        deadline = time.monotonic() + wait
        try:
            while (left := deadline - time.monotonic()) > 0:
                self.sock.settimeout(left)
                message = parse_message(self.sock.recv(65535))
                if isinstance(message, SipResponse) and message.headers.get("Call-ID") == call_id:
                    return False
        except TimeoutError:
            pass
        finally:
            self.sock.settimeout(10.0)
        return True

    def _dialog(
        self, did: str, caller: str, from_host: str, uri_user: str, to_user: str
    ) -> tuple[Callable[..., str], str, str]:
        """A request builder for one new call, the INVITE's branch and the Call-ID."""
        uri = f"sip:{uri_user or did}@{HOST}:{self.pbx.sip_port}"
        to_uri = f"sip:{to_user or did}@{HOST}:{self.pbx.sip_port}"
        call_id, tag, branch = secrets.token_hex(8), secrets.token_hex(4), secrets.token_hex(6)
        host = self.host

        def request(method: str, cseq: int, to_tag: str, branch: str, extra: str = "") -> str:
            to = f"<{to_uri}>" + (f";tag={to_tag}" if to_tag else "")
            return (
                f"{method} {uri} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {host}:{self.port};branch=z9hG4bK{branch};rport\r\n"
                f"Max-Forwards: 70\r\nFrom: <sip:{caller}@{from_host}>;tag={tag}\r\n"
                f"To: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n"
                f"Contact: <sip:{caller}@{host}:{self.port}>\r\n{extra}"
            )

        return request, branch, call_id


class BlackHole:
    """A provider that never answers: every datagram it gets is dropped (kept in the
    socket's buffer until ``drain`` reads them, for a test asking what came)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]

    def drain(self) -> list[bytes]:
        """The datagrams received since the last drain (bounded)."""
        got: list[bytes] = []
        for _ in range(10_000):
            try:
                got.append(self.sock.recv(65535))
            except BlockingIOError:
                break
        return got

    def close(self) -> None:
        self.sock.close()


class OptionsResponder:
    """Answers the OPTIONS keep-alive a new peer trunk sends at once, while the trunks
    are set up (the sipp providers of the tests come later, and their scenarios would
    take an OPTIONS for a call)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, port))
        self.sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(65535)
            except (TimeoutError, OSError):
                continue
            message = parse_message(data)
            if not isinstance(message, SipRequest) or message.method != "OPTIONS":
                continue
            lines = [
                f"{name}: {value}"
                for name, value in message.headers.items()
                if name.lower() in ("via", "from", "to", "call-id", "cseq")
            ]
            answer = "SIP/2.0 200 OK\r\n" + "\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n"
            self.sock.sendto(answer.encode(), peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self.sock.close()
