"""Session timers on the callee's leg (RFC 4028): our INVITE offers one, and the
callee's 200 decides who refreshes. When the PBX is the refresher it re-INVITEs the
callee at half the interval and the call goes on; when the callee is, its own
refresh keeps the call, and a callee that never refreshes has the call hung up on
both sides once the session expires.

A PBX of its own: a 90 s interval (the least RFC 4028 allows), so these tests take
about a minute each, and no RTP timeout (the sipp phones send no audio)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.calls.conftest import call_pbx_with
from tests.e2e.calls.peers import call, start, wait_bound
from tests.e2e.calls.test_extension_behaviour import registered
from tests.harness import EventReceiver, PbxProcess

pytestmark = pytest.mark.peers

INTERVAL = 90
LONG = 150.0  # seconds a phone of these tests may wait (sipp's -timeout too)


@pytest.fixture(scope="module")
def timer_pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PbxProcess]:
    env = {"KILOPBX_CALL_SESSION_EXPIRES": str(INTERVAL), "KILOPBX_CALL_RTP_TIMEOUT": "0"}
    yield from call_pbx_with(tmp_path_factory, env)


def moment(workdir: Path, name: str) -> float:
    return float((workdir / name).read_text().strip())


def run_call(pbx: PbxProcess, workdir: Path, scenario: str) -> None:
    """2001 calls 2002, whose phone plays ``scenario``; both must end well."""
    wait = ["-timeout", f"{int(LONG)}s"]
    with registered(pbx, "2002", workdir) as port:
        callee = start(
            pbx, scenario, workdir, port=port, variables={"pts": "0", "rtp": "9"}, extra=wait
        )
        try:
            wait_bound(port)
            caller = call(pbx, "2001", "2002", workdir, scenario="uac_wait_bye.xml", extra=wait)
            try:
                callee.finish(timeout=LONG)
                caller.finish(timeout=LONG)  # it got its BYE: the call ended for both
            finally:
                caller.kill()
        finally:
            callee.kill()
    assert (workdir / "callee-asked.txt").read_text().strip() == str(INTERVAL)


def test_the_pbx_refreshes_the_callees_session(timer_pbx: PbxProcess, workdir: Path) -> None:
    run_call(timer_pbx, workdir, "uas_timer_refreshed.xml")
    waited = moment(workdir, "callee-refreshed.txt") - moment(workdir, "callee-answered.txt")
    assert INTERVAL / 2 - 3 <= waited <= INTERVAL / 2 + 8, waited  # §10: at half
    asked = (workdir / "callee-refresh-asked.txt").read_text().strip()
    assert asked == f"{INTERVAL};refresher=uac"  # and the PBX stays the refresher


def test_a_callee_session_not_refreshed_is_hung_up(timer_pbx: PbxProcess, workdir: Path) -> None:
    receiver = EventReceiver().start()
    try:
        timer_pbx.login(port=receiver.port)
        run_call(timer_pbx, workdir, "uas_timer_expired.xml")
        waited = moment(workdir, "callee-bye.txt") - moment(workdir, "callee-answered.txt")
        expiry = INTERVAL - min(32, INTERVAL / 3)  # §10: the side not refreshing hangs up
        assert expiry - 3 <= waited <= expiry + 8, waited
        events = receiver.wait_for(lambda evs: any(e.get("event") == "NewCdr" for e in evs))
        (cdr,) = [e for e in events if e.get("event") == "NewCdr"]
        assert (cdr["callfrom"], cdr["callto"], cdr["status"]) == ("2001", "2002", "ANSWERED")
        assert int(cdr["talkduraction"]) >= expiry - 3
        last = [e for e in events if e.get("event") == "CallStatus"][-1]
        statuses = [m["ext"]["memberstatus"] for m in last["members"]]
        assert statuses == ["BYE", "BYE"]  # an end the PBX made: everyone at once
    finally:
        receiver.stop()


def test_a_callee_that_refreshes_keeps_its_call(timer_pbx: PbxProcess, workdir: Path) -> None:
    """The callee is the refresher and does refresh (a re-INVITE at 40 s): the PBX
    answers it leaving the callee the refresher, and the call outlives the moment
    it would have been hung up without the refresh."""
    run_call(timer_pbx, workdir, "uas_timer_phone_refreshes.xml")
    assert (workdir / "callee-kept.txt").read_text().strip() == f"{INTERVAL};refresher=uac"
    lasted = moment(workdir, "callee-bye.txt") - moment(workdir, "callee-answered.txt")
    assert lasted > INTERVAL - min(32, INTERVAL / 3) + 5, lasted  # its BYE found the call
