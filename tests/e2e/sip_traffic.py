"""SIP traffic for end-to-end tests: a minimal phone (digest REGISTERs from a chosen
loopback address, over UDP with a phone's retransmissions or over TCP), bystanders
timing legitimate traffic while an attack runs, and the PBX's memory."""

from __future__ import annotations

import contextlib
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from kilopbx.sip.digest import DigestChallenge, build_authorization, parse_challenge
from kilopbx.sip.message import SipResponse
from kilopbx.sip.parser import StreamFramer, parse_message
from tests.harness import PbxProcess


class MiniPhone:
    """Just enough of a UAC to send REGISTERs from a chosen loopback address, over UDP
    (with a phone's retransmissions) or over one TCP connection."""

    def __init__(
        self,
        pbx_port: int,
        local_ip: str = "127.0.0.1",
        user_agent: str = "Mini/1",
        *,
        tcp: bool = False,
    ) -> None:
        self.pbx = ("127.0.0.1", pbx_port)
        self.tcp = tcp
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
        self.sock.bind((local_ip, 0))
        if tcp:
            self.sock.settimeout(2.0)
            self.sock.connect(self.pbx)
            self.framer = StreamFramer()
        self.local_ip, self.local_port = self.sock.getsockname()
        self.user_agent = user_agent
        self.call_id = secrets.token_hex(8)
        self.cseq = 0
        self.challenge: DigestChallenge | None = None
        self.nc = 0
        self.expires = 300  # 0 asks the PBX to drop the registration

    def close(self) -> None:
        self.sock.close()

    def request(
        self, user: str, authorization: str | None = None, timeout: float = 4.0
    ) -> SipResponse | None:
        self.cseq += 1
        lines = [
            f"REGISTER sip:127.0.0.1:{self.pbx[1]} SIP/2.0",
            f"Via: SIP/2.0/{'TCP' if self.tcp else 'UDP'} {self.local_ip}:{self.local_port}"
            f";branch=z9hG4bK{secrets.token_hex(6)};rport",
            f"From: <sip:{user}@127.0.0.1>;tag=t{self.cseq}",
            f"To: <sip:{user}@127.0.0.1>",
            f"Call-ID: {self.call_id}",
            f"CSeq: {self.cseq} REGISTER",
            f"Contact: <sip:{user}@{self.local_ip}:{self.local_port}>",
            f"Expires: {self.expires}",
            "Max-Forwards: 70",
            f"User-Agent: {self.user_agent}",
        ]
        if authorization:
            lines.append(f"Authorization: {authorization}")
        data = ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()
        if self.tcp:
            return self._over_tcp(data, timeout)
        # like a phone over UDP: retransmit after 0.5 s, then 1 s, 2 s ... (Timer E)
        deadline = time.monotonic() + timeout
        interval = 0.5
        while True:
            self.sock.sendto(data, self.pbx)
            resend_at = min(deadline, time.monotonic() + interval)
            interval *= 2
            while (remaining := resend_at - time.monotonic()) > 0:
                self.sock.settimeout(remaining)
                try:
                    answer = parse_message(self.sock.recv(65535))
                except TimeoutError:
                    break
                # a late answer to an earlier request is not this one's
                if (
                    isinstance(answer, SipResponse)
                    and answer.status >= 200
                    and answer.cseq[0] == self.cseq
                ):
                    return answer
            if time.monotonic() >= deadline:
                return None

    def _over_tcp(self, data: bytes, timeout: float) -> SipResponse | None:
        self.sock.sendall(data)
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65535)
            except TimeoutError:
                return None
            if not chunk:
                return None
            for item in self.framer.feed(chunk):
                if (
                    isinstance(item, SipResponse)
                    and item.status >= 200
                    and item.cseq[0] == self.cseq
                ):
                    return item
        return None

    def register(self, user: str, username: str, password: str, timeout: float = 4.0) -> int | None:
        """REGISTER, answer the MD5 challenge, return the final status (None: silence)."""
        first = self.request(user, timeout=timeout)
        if first is None or first.status != 401:
            return None if first is None else first.status
        challenges = [parse_challenge(v) for v in first.headers.get_all("WWW-Authenticate")]
        self.challenge = next(c for c in challenges if c.algorithm == "MD5")
        self.nc = 1
        final = self.request(user, self.authorization(username, password), timeout=timeout)
        return None if final is None else final.status

    def refresh(self, user: str, username: str, password: str, timeout: float = 4.0) -> int | None:
        """REGISTER again with the last challenge and the next nonce-count, as phones
        do: one round trip instead of two."""
        if self.challenge is None:
            return self.register(user, username, password, timeout)
        self.nc += 1
        final = self.request(user, self.authorization(username, password), timeout=timeout)
        if final is not None and final.status == 401:
            self.challenge = None
        return None if final is None else final.status

    def authorization(self, username: str, password: str) -> str:
        assert self.challenge is not None
        return build_authorization(
            self.challenge,
            method="REGISTER",
            uri=f"sip:127.0.0.1:{self.pbx[1]}",
            username=username,
            password=password,
            nc=self.nc,
        )


class Bystanders:
    """Legitimate traffic timed while an attack runs: a UDP phone and a TCP phone on
    addresses of their own register in turn, and the API is asked for its heartbeat."""

    def __init__(
        self, pbx_port: int, api: Callable[[], object], number: str, password: str
    ) -> None:
        self.port, self.api = pbx_port, api
        self.number, self.password = number, password
        self.udp: list[float | None] = []  # seconds to a 200, None: no 200 within 2 s
        self.tcp: list[float | None] = []
        self.api_seconds: list[float | None] = []
        self.failures: list[str] = []  # what went wrong, for the assertion message
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _timed_register(self, phone: MiniPhone) -> float | None:
        seconds, status = seconds_to_register(phone, self.number, self.password, timeout=2.0)
        if seconds is None:
            self.failures.append(f"{'TCP' if phone.tcp else 'UDP'} REGISTER: {status or 'silence'}")
        return seconds

    def _timed_api(self) -> float | None:
        started = time.monotonic()
        try:
            self.api()
        except OSError as error:
            self.failures.append(f"API: {error!r}")
            return None
        return time.monotonic() - started

    def _run(self) -> None:
        udp = MiniPhone(self.port, "127.0.0.2")
        tcp = MiniPhone(self.port, "127.0.0.4", tcp=True)
        deadline = time.monotonic() + 30
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                self.udp.append(self._timed_register(udp))
                self.tcp.append(self._timed_register(tcp))
                self.api_seconds.append(self._timed_api())
                self._stop.wait(0.2)
        finally:
            udp.close()
            tcp.close()

    @classmethod
    def of(cls, pbx: PbxProcess, number: str, password: str) -> Bystanders:
        token = pbx.login()
        return cls(pbx.sip_port, lambda: pbx.api("heartbeat", {}, token=token), number, password)

    def __enter__(self) -> Bystanders:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def report(self) -> str:
        return f"UDP {self.udp}, TCP {self.tcp}, API {self.api_seconds}, {self.failures}"

    def worst(self) -> float:
        """The slowest answer seen (infinity when one never came)."""
        samples = [*self.udp, *self.tcp, *self.api_seconds]
        return max((float("inf") if s is None else s for s in samples), default=float("inf"))


def seconds_to_register(
    phone: MiniPhone, number: str, password: str, timeout: float
) -> tuple[float | None, int | None]:
    """(seconds to the 200 or None, final status) of a digest REGISTER whose digest
    user name is the extension number."""
    started = time.monotonic()
    status = phone.register(number, number, password, timeout=timeout)
    return (time.monotonic() - started if status == 200 else None), status


def registers_within(
    port: int, source: str, number: str, password: str, seconds: float, *, tcp: bool = False
) -> bool:
    """Does a fresh phone on ``source`` get its 200 within ``seconds``?"""
    phone = MiniPhone(port, source, tcp=tcp)
    try:
        taken, _ = seconds_to_register(phone, number, password, timeout=seconds + 1.0)
    finally:
        phone.close()
    return taken is not None and taken < seconds


def add_extensions(pbx: PbxProcess, numbers: list[str], password: str) -> None:
    """Extensions whose registername is their number (four requests at a time: a test
    adding hundreds would otherwise spend seconds waiting on round trips)."""
    token = pbx.login()

    def add(number: str) -> None:
        body = {
            "number": number,
            "username": f"U{number}",
            "registername": number,
            "registerpassword": password,
        }
        answer = pbx.api("extension/add", body, token=token)
        assert answer["status"] == "Success", answer

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(add, numbers))


def registrar_pbx(
    make_pbx: Callable[..., PbxProcess], number: str, password: str, **env: str
) -> PbxProcess:
    """A PBX without qualify OPTIONS (the test phones never answer them) and one
    extension."""
    pbx = make_pbx({"KILOPBX_REGISTRAR_QUALIFY_INTERVAL": "0", **env})
    add_extensions(pbx, [number], password)
    return pbx


def send_paced(
    datagrams: Iterator[tuple[socket.socket, bytes]], port: int, rate: float, seconds: float
) -> int:
    """Send ``(socket, datagram)`` pairs to the PBX at ``rate`` a second for ``seconds``;
    the number sent (a full kernel buffer counts as sent and lost, as on a network)."""
    started = time.monotonic()
    sent = 0
    for sock, data in datagrams:
        elapsed = time.monotonic() - started
        if elapsed >= seconds:
            break
        with contextlib.suppress(BlockingIOError):
            sock.sendto(data, ("127.0.0.1", port))
        sent += 1
        ahead = sent / rate - elapsed
        if ahead > 0.002:
            time.sleep(ahead)
    return sent


def rss_kib(pid: int) -> int:
    """Resident memory of a process, KiB."""
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmRSS"))
    return int(line.split()[1])
