"""What a hostile or broken provider, DNS answer or setting can do to a trunk: never a
crash, never a spin, never a password in a log."""

from __future__ import annotations

import asyncio
import logging

import pytest

from kilopbx.apps.trunks.dns_lookup import parse_nameserver
from kilopbx.apps.trunks.register_client import RegisterClient
from kilopbx.apps.trunks.registration import MAX_EXPIRES
from kilopbx.apps.trunks.runtime_config import TrunkRuntimeConfig
from kilopbx.engine.trunking import TrunkTarget
from kilopbx.sip.headers import Headers
from kilopbx.sip.message import SipRequest, SipResponse, make_response
from kilopbx.sip.transport import Destination
from tests.unit.trunks.helpers import config
from tests.unit.trunks.test_workers import FakeSip

SETTINGS = TrunkRuntimeConfig(request_timeout=0.5, retry_min=5, retry_max=60)
TARGET = TrunkTarget("192.0.2.1", 5060, "udp")


async def one_attempt(answer: SipResponse | None, **headers: str) -> RegisterClient:
    def reply(request: SipRequest, _: Destination) -> SipResponse | None:
        if answer is None:
            return None
        response = make_response(request, answer.status, to_tag="t")
        for name, value in headers.items():
            response.headers.add(name.replace("_", "-"), value)
        return response

    async def resolve(_: object) -> list[TrunkTarget]:
        return [TARGET]

    worker = RegisterClient(
        config(1, "C", "register", password="Sup3rSecretPw"),
        FakeSip(reply),
        resolve,
        SETTINGS,
        lambda: 0.0,
    )
    worker.start()
    try:
        async with asyncio.timeout(5):
            while worker.machine.next_at in (0.0, None):
                await asyncio.sleep(0.01)
    finally:
        await worker.stop(farewell=False)
    return worker


def status(code: int) -> SipResponse:
    return SipResponse(code, "", Headers())


@pytest.mark.parametrize(
    "challenge",
    ["", "Basic realm=x", "Digest", 'Digest realm="r"', "Digest nonce=x, algorithm=MD7, realm=r"],
)
async def test_an_unanswerable_challenge_is_a_failure(challenge: str) -> None:
    extra = {"WWW_Authenticate": challenge} if challenge else {}
    worker = await one_attempt(status(401), **extra)
    assert worker.status == "Failure" and worker.sent == 1


@pytest.mark.parametrize(
    ("contact", "expires", "granted"),
    [
        ("<sip:nobody@198.51.100.1>;expires=10", "77", 77),  # not ours: the Expires header
        ("garbage <<<", "", 3600),  # unreadable Contact: what we asked
        ("<sip:u1@127.0.0.1:5060>;expires=abc", "", 3600),
        ("<sip:u1@127.0.0.1:5060>;expires=99999999999", "", 3600),
        ("<sip:u1@127.0.0.1:5060>;expires=0", "", 1),  # bound below: refreshed at once
        ("", "99999999", MAX_EXPIRES),
    ],
)
async def test_a_strange_2xx_still_registers_for_a_sane_time(
    contact: str, expires: str, granted: int
) -> None:
    extra = {}
    if contact:
        extra["Contact"] = contact
    if expires:
        extra["Expires"] = expires
    worker = await one_attempt(status(200), **extra)
    assert worker.status == "Registered" and worker.machine.granted == granted


async def test_passwords_never_reach_the_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await one_attempt(status(401), WWW_Authenticate='Digest realm="r", nonce="n"')
    await one_attempt(status(500))
    await one_attempt(None)
    assert "Sup3rSecretPw" not in caplog.text


def test_bad_settings_are_refused_at_start() -> None:
    assert parse_nameserver("") is None
    assert parse_nameserver("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_nameserver("[::1]:53") == ("::1", 53)
    assert parse_nameserver("10.0.0.2") == ("10.0.0.2", 53)
    for bad in ("127.0.0.1:x", "127.0.0.1:0", "127.0.0.1:70000", "not an address", "[::1"):
        with pytest.raises(ValueError):
            parse_nameserver(bad)
    assert TrunkRuntimeConfig.load({"retry_min": "2"}, env={}).retry_min == 2.0
    for table in ({"retry_min": "0"}, {"retry_min": "9", "retry_max": "3"}, {"nope": 1}):
        with pytest.raises(ValueError):
            TrunkRuntimeConfig.load(table, env={})
    env = {"KILOPBX_TRUNKS_REQUEST_TIMEOUT": "1.5"}
    assert TrunkRuntimeConfig.load(None, env=env).request_timeout == 1.5
