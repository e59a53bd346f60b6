"""Session timers on the callee's leg (RFC 4028): our INVITE offers one, and the
callee's 200 decides who refreshes. When the PBX is the refresher it re-INVITEs the
callee at half the interval and the call goes on; when the callee is, its own
refresh keeps the call, and a callee that never refreshes has the call hung up on
both sides once the session expires.

A PBX of its own: a 90 s interval (the least RFC 4028 allows) and no RTP timeout
(the sipp phones send no audio). Each behaviour needs a call that lives for about a
minute, so the module places its three calls at once, between three pairs of
extensions, as soon as the first test asks; each test then checks its own call."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.calls.conftest import call_pbx_with
from tests.e2e.calls.peers import add_extensions, call, start, wait_bound
from tests.e2e.calls.test_extension_behaviour import registered
from tests.harness import EventReceiver, PbxProcess

pytestmark = pytest.mark.peers

INTERVAL = 90
LONG = 150.0  # seconds a phone of these tests may wait (sipp's -timeout too)


@pytest.fixture(scope="module")
def timer_pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PbxProcess]:
    env = {"KILOPBX_CALL_SESSION_EXPIRES": str(INTERVAL), "KILOPBX_CALL_RTP_TIMEOUT": "0"}
    for pbx in call_pbx_with(tmp_path_factory, env):
        add_extensions(pbx, pbx.login(), ("2004", "2005", "2006"))
        yield pbx


CASES = {  # name: caller, callee, the callee's scenario
    "pbx-refreshes": ("2001", "2002", "uas_timer_refreshed.xml"),
    "not-refreshed": ("2003", "2004", "uas_timer_expired.xml"),
    "phone-refreshes": ("2005", "2006", "uas_timer_phone_refreshes.xml"),
}


def moment(workdir: Path, name: str) -> float:
    return float((workdir / name).read_text().strip())


def run_call(
    pbx: PbxProcess,
    workdir: Path,
    caller_number: str,
    callee_number: str,
    scenario: str,
    port: int,
) -> None:
    """``caller_number`` calls ``callee_number``, whose phone (registered from ``port``)
    plays ``scenario``; both must end well."""
    wait = ["-timeout", f"{int(LONG)}s"]
    callee = start(
        pbx, scenario, workdir, port=port, variables={"pts": "0", "rtp": "9"}, extra=wait
    )
    try:
        wait_bound(port)
        caller = call(
            pbx, caller_number, callee_number, workdir, scenario="uac_wait_bye.xml", extra=wait
        )
        try:
            callee.finish(timeout=LONG)
            caller.finish(timeout=LONG)  # it got its BYE: the call ended for both
        finally:
            caller.kill()
    finally:
        callee.kill()
    assert (workdir / "callee-asked.txt").read_text().strip() == str(INTERVAL)


@pytest.fixture(scope="module")
def events(timer_pbx: PbxProcess) -> Iterator[EventReceiver]:
    receiver = EventReceiver().start()
    try:
        timer_pbx.login(port=receiver.port)
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture(scope="module")
def calls(
    timer_pbx: PbxProcess, events: EventReceiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, tuple[Path, Future[None]]]]:
    """The three calls, placed at once (the callees registered one after the other)."""
    with ExitStack() as registrations, ThreadPoolExecutor(max_workers=len(CASES)) as pool:
        placed = {}
        for name, (caller, callee, scenario) in CASES.items():
            directory = tmp_path_factory.mktemp(name)
            port = registrations.enter_context(registered(timer_pbx, callee, directory))
            future = pool.submit(run_call, timer_pbx, directory, caller, callee, scenario, port)
            placed[name] = (directory, future)
        yield placed


def finished(calls: dict[str, tuple[Path, Future[None]]], name: str) -> Path:
    directory, future = calls[name]
    future.result(timeout=2 * LONG + 30)
    return directory


def test_the_pbx_refreshes_the_callees_session(
    calls: dict[str, tuple[Path, Future[None]]],
) -> None:
    workdir = finished(calls, "pbx-refreshes")
    waited = moment(workdir, "callee-refreshed.txt") - moment(workdir, "callee-answered.txt")
    assert INTERVAL / 2 - 3 <= waited <= INTERVAL / 2 + 8, waited  # §10: at half
    asked = (workdir / "callee-refresh-asked.txt").read_text().strip()
    assert asked == f"{INTERVAL};refresher=uac"  # and the PBX stays the refresher


def test_a_callee_session_not_refreshed_is_hung_up(
    calls: dict[str, tuple[Path, Future[None]]], events: EventReceiver
) -> None:
    workdir = finished(calls, "not-refreshed")
    waited = moment(workdir, "callee-bye.txt") - moment(workdir, "callee-answered.txt")
    expiry = INTERVAL - min(32, INTERVAL / 3)  # §10: the side not refreshing hangs up
    assert expiry - 3 <= waited <= expiry + 8, waited

    def ours(event: dict[str, Any]) -> bool:
        return event.get("event") == "NewCdr" and event.get("callfrom") == "2003"

    seen = events.wait_for(lambda evs: any(ours(e) for e in evs))
    (cdr,) = [e for e in seen if ours(e)]
    assert (cdr["callfrom"], cdr["callto"], cdr["status"]) == ("2003", "2004", "ANSWERED")
    assert int(cdr["talkduraction"]) >= expiry - 3
    statuses = [
        e for e in seen
        if e.get("event") == "CallStatus"
        and [m["ext"]["number"] for m in e["members"]] == ["2003", "2004"]
    ]  # fmt: skip
    last = statuses[-1]
    assert [m["ext"]["memberstatus"] for m in last["members"]] == ["BYE", "BYE"]  # all at once


def test_a_callee_that_refreshes_keeps_its_call(
    calls: dict[str, tuple[Path, Future[None]]],
) -> None:
    """The callee is the refresher and does refresh (a re-INVITE at 40 s): the PBX
    answers it leaving the callee the refresher, and the call outlives the moment
    it would have been hung up without the refresh."""
    workdir = finished(calls, "phone-refreshes")
    assert (workdir / "callee-kept.txt").read_text().strip() == f"{INTERVAL};refresher=uac"
    lasted = moment(workdir, "callee-bye.txt") - moment(workdir, "callee-answered.txt")
    assert lasted > INTERVAL - min(32, INTERVAL / 3) + 5, lasted  # its BYE found the call
