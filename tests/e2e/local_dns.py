"""A tiny authoritative DNS server on 127.0.0.1 for trunk tests (dnspython, one thread).

It answers from a fixed table of (name, type) -> record texts; a name it has no records
for at all is NXDOMAIN. Nothing leaves loopback.
"""

from __future__ import annotations

import socket
import threading

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


class LocalDns:
    def __init__(
        self,
        records: dict[tuple[str, str], list[str]],
        ttl: int = 60,
        ttls: dict[tuple[str, str], int] | None = None,
    ) -> None:
        """``ttls``: the TTL of some (name, type) answers, instead of ``ttl``."""
        self.records = {
            (name.lower().rstrip("."), kind): texts for (name, kind), texts in records.items()
        }
        self.ttl = ttl
        self.ttls = {
            (name.lower().rstrip("."), kind): t for (name, kind), t in (ttls or {}).items()
        }
        self.queries: list[tuple[str, str]] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> LocalDns:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, client = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                query = dns.message.from_wire(data)
                question = query.question[0]
            except Exception:
                continue  # not DNS: ignored
            answer = dns.message.make_response(query)
            name = question.name.to_text().lower().rstrip(".")
            kind = dns.rdatatype.to_text(question.rdtype)
            self.queries.append((name, kind))
            texts = self.records.get((name, kind))
            if texts:
                answer.answer.append(
                    dns.rrset.from_text(
                        question.name, self.ttls.get((name, kind), self.ttl), "IN", kind, *texts
                    )
                )
            elif not any(known == name for known, _ in self.records):
                answer.set_rcode(dns.rcode.NXDOMAIN)
            self._sock.sendto(answer.to_wire(), client)
