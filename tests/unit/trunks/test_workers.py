"""The trunk workers with a fake SIP service: REGISTER contents, failover to the next
target, the un-REGISTER, OPTIONS keep-alive state; and the account trunks' directory."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

from kilopbx.apps.trunks.accounts import sync_accounts
from kilopbx.apps.trunks.keepalive import DOWN, UNKNOWN, UP, PeerProbe, ProbeState
from kilopbx.apps.trunks.line_config import TrunkConfig
from kilopbx.apps.trunks.register_client import RegisterClient
from kilopbx.apps.trunks.runtime_config import TrunkRuntimeConfig
from kilopbx.engine.directory import AccountDirectory, SipAccount
from kilopbx.engine.trunking import TrunkTarget
from kilopbx.sip.digest import build_challenge
from kilopbx.sip.message import SipRequest, SipResponse, make_response
from kilopbx.sip.transport import Destination
from tests.unit.trunks.helpers import config

SETTINGS = TrunkRuntimeConfig(request_timeout=0.5, retry_min=5, retry_max=60)
A = TrunkTarget("192.0.2.1", 5060, "udp")
B = TrunkTarget("192.0.2.2", 5070, "udp")

Answerer = Callable[[SipRequest, Destination], SipResponse | None]


class FakeSip:
    started = True

    def __init__(self, answer: Answerer) -> None:
        self.answer = answer
        self.sent: list[tuple[SipRequest, Destination]] = []

    async def wait_started(self) -> None:
        return None

    async def send_request(
        self, request: SipRequest, destination: Destination, *, timeout: float | None = None
    ) -> SipResponse:
        self.sent.append((request, destination))
        response = self.answer(request, destination)
        if response is None:  # never answers: given up after `timeout`, like the stack
            assert timeout is not None
            await asyncio.sleep(timeout)
            return make_response(request, 408)
        return response

    def contact(self, peer: Destination, user: str = "pbx") -> str:
        return f"<sip:{user}@127.0.0.1:5060>"


def provider(dead: set[Destination], granted: int = 120) -> Answerer:
    def answer(request: SipRequest, destination: Destination) -> SipResponse | None:
        if destination in dead:
            return None
        if "Authorization" not in request.headers:
            challenge = build_challenge("carrier", "abc", algorithm="SHA-256")
            return make_response(
                request, 401, to_tag="t", extra_headers=[("WWW-Authenticate", challenge)]
            )
        contact = request.headers.get("Contact") or ""
        return make_response(
            request, 200, to_tag="t", extra_headers=[("Contact", f"{contact};expires={granted}")]
        )

    return answer


def register_config() -> TrunkConfig:
    return config(
        1,
        "Carrier",
        "register",
        host="sip.carrier.example",
        domain="carrier.example",
        username="88017734",
        auth_name="auth77",
    )


async def run_until(worker: RegisterClient | PeerProbe, done: Callable[[], bool]) -> None:
    worker.start()
    try:
        async with asyncio.timeout(5):
            while not done():
                await asyncio.sleep(0.01)
    finally:
        await worker.stop(farewell=False)


async def test_register_fails_over_to_the_next_target_and_authenticates() -> None:
    sip = FakeSip(provider({Destination("udp", A.host, A.port)}))

    async def resolve(_: TrunkConfig) -> list[TrunkTarget]:
        return [A, B]

    now = [0.0]
    worker = RegisterClient(register_config(), sip, resolve, SETTINGS, lambda: now[0])
    await run_until(worker, lambda: worker.status == "Registered")
    assert worker.machine.granted == 120
    assert worker.addresses == {(A.host, A.port), (B.host, B.port)}
    first, _ = sip.sent[0]
    assert first.uri == "sip:carrier.example"
    assert first.headers.get("To") == "<sip:88017734@carrier.example>"
    assert first.headers.get("Expires") == "3600"
    last, where = sip.sent[-1]
    assert where == Destination("udp", B.host, B.port)
    assert 'username="auth77"' in (last.headers.get("Authorization") or "")
    assert "algorithm=SHA-256" in (last.headers.get("Authorization") or "")
    assert {r.call_id for r, _ in sip.sent} == {first.call_id}  # one binding, one Call-ID
    cseqs = [r.cseq[0] for r, _ in sip.sent]
    assert cseqs == sorted(cseqs) and len(set(cseqs)) == len(cseqs)


async def test_no_target_answering_is_a_failure_and_a_farewell_goes_where_it_registered() -> None:
    dead: set[Destination] = set()
    sip = FakeSip(provider(dead))

    async def resolve(_: TrunkConfig) -> list[TrunkTarget]:
        return [A]

    now = [0.0]
    worker = RegisterClient(register_config(), sip, resolve, SETTINGS, lambda: now[0])
    await run_until(worker, lambda: worker.status == "Registered")
    sip.sent.clear()
    await worker.stop(farewell=True)
    assert [r.headers.get("Expires") for r, _ in sip.sent] == ["0", "0"]  # asked, answered
    dead.add(Destination("udp", A.host, A.port))
    worker2 = RegisterClient(register_config(), sip, resolve, SETTINGS, lambda: now[0])
    await run_until(worker2, lambda: worker2.status == "Failure")
    assert worker2.machine.next_at == 5.0


async def test_no_resolution_is_a_failure() -> None:
    sip = FakeSip(provider(set()))

    async def resolve(_: TrunkConfig) -> list[TrunkTarget]:
        return []

    worker = RegisterClient(register_config(), sip, resolve, SETTINGS, lambda: 0.0)
    await run_until(worker, lambda: worker.status == "Failure")
    assert sip.sent == []


def test_probe_state() -> None:
    state = ProbeState(5, 100.0)
    assert state.status == UNKNOWN and state.next_at == 100.0
    assert state.result(True, 100.0) and state.status == UP and state.next_at == 105.0
    assert not state.result(True, 105.0)
    assert state.result(False, 110.0) and state.status == DOWN and state.misses == 1


async def test_peer_probe_marks_up_then_down() -> None:
    dead: set[Destination] = set()

    def answer(request: SipRequest, destination: Destination) -> SipResponse | None:
        if destination in dead:
            return None
        return make_response(request, 404, to_tag="x")  # any answer: the peer is there

    sip = FakeSip(answer)
    now = [0.0]

    async def resolve(_: TrunkConfig) -> list[TrunkTarget]:
        return [A]

    probe = PeerProbe(
        replace(config(2, "GW"), qualify_seconds=5), sip, resolve, SETTINGS, lambda: now[0]
    )
    await run_until(probe, lambda: probe.status == UP)
    request, _ = sip.sent[0]
    assert request.method == "OPTIONS" and request.uri == "sip:192.0.2.1:5060"
    dead.add(Destination("udp", A.host, A.port))
    now[0] = 5.0
    await run_until(probe, lambda: probe.status == DOWN)
    silent = PeerProbe(
        replace(config(3, "Q"), qualify_seconds=0), sip, resolve, SETTINGS, lambda: 0.0
    )
    await run_until(silent, lambda: bool(silent.addresses))
    assert silent.status == UNKNOWN


def test_account_trunks_live_in_the_directory_but_are_no_extensions() -> None:
    directory = AccountDirectory()
    directory.put(SipAccount("1000", "1000", "pw"))
    changes: list[tuple[str, SipAccount | None, SipAccount | None]] = []
    directory.on_change(lambda n, old, new: changes.append((n, old, new)))
    account = config(5, "Branch", "account", username="branch77", auth_name="b77auth")
    sync_accounts(directory, [account])
    found = directory.by_auth_name("b77auth")
    assert found is not None and found.number == "branch77" and found.trunk == "Branch"
    assert directory.by_number("branch77") is None
    assert directory.by_auth_name("1000") is not None  # extensions are untouched
    assert not directory.status_monitored("branch77") and directory.status_monitored("1000")
    sync_accounts(directory, [account])  # no change: no notification
    assert len(changes) == 1
    sync_accounts(directory, [replace(account, password="new")])
    assert changes[-1][2] is not None and changes[-1][2].password == "new"
    sync_accounts(directory, [replace(account, enabled=False)])
    assert directory.trunk_account("branch77") is None and changes[-1][2] is None
    assert directory.by_auth_name("b77auth") is None
