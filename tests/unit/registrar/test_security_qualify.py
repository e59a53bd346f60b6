"""Ban list windows, scanner detection, qualify probes and the SIP service's routing."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from kilopbx.apps.registrar.core import RegisterRequest, RegistrarCore
from kilopbx.apps.registrar.qualify import Qualifier
from kilopbx.apps.registrar.security import BanList, is_scanner
from kilopbx.clock import FakeClock
from kilopbx.engine.sip_service import SipService
from kilopbx.sip.headers import Headers
from kilopbx.sip.message import SipRequest, SipResponse, make_response
from kilopbx.sip.parser import parse_message
from kilopbx.sip.transport import Destination, Source


def test_failures_outside_the_window_do_not_add_up() -> None:
    clock = FakeClock()
    bans = BanList(clock.monotonic, threshold=3, window=10, ban_seconds=60)
    assert not bans.failed("1.2.3.4")
    clock.advance(6)
    assert not bans.failed("1.2.3.4")
    clock.advance(6)  # the first failure left the window
    assert not bans.failed("1.2.3.4")
    assert bans.failed("1.2.3.4")
    assert bans.banned() == ["1.2.3.4"]
    clock.advance(61)
    assert bans.allow("1.2.3.4") and bans.banned() == []


def test_exempt_and_disabled() -> None:
    clock = FakeClock()
    bans = BanList(clock.monotonic, threshold=1, exempt=frozenset({"127.0.0.1"}))
    assert not bans.failed("127.0.0.1")
    off = BanList(clock.monotonic, threshold=0)
    assert not off.failed("1.2.3.4") and off.allow("1.2.3.4")


def test_tracking_is_bounded() -> None:
    clock = FakeClock()
    bans = BanList(clock.monotonic, threshold=5, max_tracked=100)
    for i in range(1000):
        bans.failed(f"10.0.{i // 256}.{i % 256}")
    assert len(bans._failures) <= 100


def test_scanner_names() -> None:
    assert is_scanner("friendly-scanner")
    assert is_scanner("sundayddr")
    assert is_scanner("sip-scan 1.0")
    assert not is_scanner("Yealink SIP-T46S 66.86.0.15")
    assert not is_scanner(None)


async def test_qualify_marks_silent_contacts_unreachable() -> None:
    clock = FakeClock()
    core = RegistrarCore(clock)
    for number, host in (("2001", "10.0.0.5"), ("2002", "10.0.0.6")):
        core.register(
            RegisterRequest(number, "c", 1, [(f"sip:{number}@{host}", 300)], host=host, port=5060),
            1,
        )
    sent: list[tuple[SipRequest, Destination]] = []

    async def send(request: SipRequest, destination: Destination) -> SipResponse:
        sent.append((request, destination))
        status = 200 if destination.host == "10.0.0.5" else 408
        return make_response(request, status)

    qualifier = Qualifier(core, send, lambda: "127.0.0.1", interval=30)
    qualifier.tick()  # learns the bindings
    assert sent == []
    clock.advance(31)
    qualifier.tick()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert sorted(d.host for _, d in sent) == ["10.0.0.5", "10.0.0.6"]
    request = sent[0][0]
    assert request.method == "OPTIONS" and request.uri.startswith("sip:200")
    assert core.is_registered("2001") and not core.is_registered("2002")
    qualifier.tick()  # not due again yet
    await asyncio.sleep(0)
    assert len(sent) == 2


@dataclass
class FakeTxn:
    request: SipRequest
    answers: list[tuple[int, list[tuple[str, str]]]] = field(default_factory=list)

    def respond(self, status: int, reason: str | None = None, headers=None, body=b"") -> None:  # type: ignore[no-untyped-def]
        self.answers.append((status, list(headers or [])))


def _request(method: str) -> SipRequest:
    headers = Headers(
        [
            ("Via", "SIP/2.0/UDP 10.0.0.5;branch=z9hG4bKx"),
            ("From", "<sip:a@b>;tag=1"),
            ("To", "<sip:c@d>"),
            ("Call-ID", "x"),
            ("CSeq", f"1 {method}"),
        ]
    )
    return SipRequest(method, "sip:c@d", headers)


async def test_service_routes_by_method() -> None:
    service = SipService()
    seen: list[str] = []
    service.register_method("REGISTER", lambda txn: seen.append(txn.request.method))
    txn = FakeTxn(_request("REGISTER"))
    assert service.on_request(txn) is None  # type: ignore[arg-type]
    assert seen == ["REGISTER"] and txn.answers == []

    options = FakeTxn(_request("OPTIONS"))
    assert service.on_request(options) is None  # type: ignore[arg-type]
    assert options.answers[0][0] == 200
    allow = dict(options.answers[0][1])["Allow"]
    assert "REGISTER" in allow and "OPTIONS" in allow

    invite = FakeTxn(_request("INVITE"))
    assert service.on_request(invite) is None  # type: ignore[arg-type]
    assert invite.answers[0][0] == 405

    odd = FakeTxn(_request("FROBNICATE"))
    assert service.on_request(odd) is None  # type: ignore[arg-type]
    assert odd.answers[0][0] == 501


def test_service_answers_anonymous_requests_statelessly() -> None:
    service = SipService()
    source = Source("udp", "10.0.0.9", 5060)

    def request(method: str) -> SipRequest:
        data = (
            f"{method} sip:pbx.test SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKx\r\n"
            f"From: <sip:a@x>;tag=1\r\nTo: <sip:b@pbx.test>\r\nCall-ID: c\r\n"
            f"CSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
        ).encode()
        parsed = parse_message(data)
        assert isinstance(parsed, SipRequest)
        return parsed

    options = service.answer_statelessly(request("OPTIONS"), source)
    assert options is not None and options[0] == 200
    assert ("Accept", "application/sdp") in options[2]
    assert service.answer_statelessly(request("SUBSCRIBE"), source)[0] == 405  # type: ignore[index]
    assert service.answer_statelessly(request("FROBNICATE"), source)[0] == 501  # type: ignore[index]
    service.register_method("MESSAGE", lambda transaction: None)
    assert service.answer_statelessly(request("MESSAGE"), source) is None  # its handler's
    service.unregister_method("MESSAGE")
    service.register_method("MESSAGE", lambda transaction: None, lambda req, src: (403, None, []))
    assert service.answer_statelessly(request("MESSAGE"), source) == (403, None, [])
    service.unregister_method("MESSAGE")
    assert service.answer_statelessly(request("MESSAGE"), source)[0] == 405  # type: ignore[index]


def test_service_filters() -> None:
    service = SipService()
    service.add_source_filter(lambda host: host != "6.6.6.6")
    assert service.allow_source("1.1.1.1") and not service.allow_source("6.6.6.6")


async def test_qualify_ignores_answers_during_shutdown() -> None:
    clock = FakeClock()
    core = RegistrarCore(clock)
    core.register(RegisterRequest("2001", "c", 1, [("sip:2001@10.0.0.5", 300)]), 1)

    async def send(request: SipRequest, destination: Destination) -> SipResponse:
        return make_response(request, 503)  # what a stopping stack answers

    qualifier = Qualifier(core, send, lambda: "127.0.0.1", interval=30, active=lambda: False)
    qualifier.tick()
    clock.advance(31)
    qualifier.tick()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert qualifier.probes == 1
    assert core.is_registered("2001")


def test_bans_are_capped_oldest_first() -> None:
    clock = FakeClock()
    bans = BanList(clock.monotonic, threshold=1, ban_seconds=600, max_banned=3)
    for i in range(5):
        assert bans.failed(f"10.0.0.{i}")
        clock.advance(1)
    assert bans.banned_count == 3
    assert sorted(bans.banned()) == ["10.0.0.2", "10.0.0.3", "10.0.0.4"]
    assert bans.allow("10.0.0.0")  # evicted to make room


def test_ended_bans_are_pruned() -> None:
    clock = FakeClock()
    bans = BanList(clock.monotonic, threshold=1, ban_seconds=30)
    for i in range(50):
        bans.failed(f"10.0.2.{i}")
    clock.advance(30 + BanList.PRUNE_INTERVAL)
    assert bans.failed("10.0.3.1")  # a new ban prunes too
    assert bans.banned_count == 1


async def test_volume_never_mutes_a_known_peer() -> None:
    """The SIP service's wiring of the flood defences: the volume limit's kernel mute,
    the receive-queue watch and the limiter's carry-over all spare known peers."""
    clock = FakeClock()
    service = SipService()
    service.limit_udp_sources(clock.monotonic, messages=10, cpu_share=0)
    known = {"127.0.0.9"}
    service.add_known_peers(known.__contains__)
    service.add_known_peers(lambda host: host == "127.0.0.8")
    await service.start("127.0.0.1", 0)
    try:
        limiter, mute, watch = service.stack.udp_limiter, service.kernel_mute, service.udp_pressure
        assert limiter is not None and mute is not None and watch is not None
        assert service.is_known_peer("127.0.0.8") and not service.is_known_peer("127.0.0.7")
        for host in ("127.0.0.9", "127.0.0.8", "127.0.0.7"):
            for _ in range(12):
                limiter.admit(host)
        assert mute.muted == ["127.0.0.7"]
        assert limiter.protected("127.0.0.9") and watch.protected("127.0.0.8")
        assert not watch.protected("127.0.0.7")
        known.clear()  # the registration expired: an address like any other
        assert not limiter.protected("127.0.0.9")
    finally:
        await service.stop()
