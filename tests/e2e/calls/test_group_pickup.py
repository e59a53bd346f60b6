"""Pickup groups: set and shown through extension/pickupgroup/*, and *8 from a phone
answering the call that rings another extension of its group (same call id, the
ringing phone cancelled, audio both ways)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.calls.peers import answer, call, pbx_media_port, shown
from tests.e2e.calls.rtp_phone import RtpPhone, talk
from tests.e2e.calls.sip_client import Caller
from tests.harness import HOST, PbxProcess
from tests.media_audio import dominant_frequency

pytestmark = pytest.mark.peers


@pytest.fixture(scope="module")
def token(call_pbx: PbxProcess) -> str:
    return call_pbx.login()


@pytest.fixture
def groups(call_pbx: PbxProcess, token: str) -> Iterator[None]:
    """2002 and 2003 in "sales", 2001 in none; all back to none afterwards."""
    body = {"number": "2002,2003", "pickupgroup": "sales"}
    assert call_pbx.api("extension/pickupgroup/update", body, token=token)["status"] == "Success"
    yield
    body = {"number": "all", "pickupgroup": "none"}
    assert call_pbx.api("extension/pickupgroup/update", body, token=token)["status"] == "Success"


def test_query_shows_the_groups(call_pbx: PbxProcess, token: str, groups: None) -> None:
    assert call_pbx.api("extension/pickupgroup/query", {}, token=token) == {
        "status": "Success",
        "pickupgroups": [{"pickupgroup": "sales", "members": "2002,2003"}],
        "nogroup": "2001",
    }


@pytest.mark.parametrize(
    ("body", "errno"),
    [
        ({"pickupgroup": "sales"}, "10004"),
        ({"number": "2001"}, "10004"),
        ({"number": "2001", "pickupgroup": ""}, "10004"),
        ({"number": "2001", "pickupgroup": ["sales"]}, "10004"),
        ({"number": "2001", "pickupgroup": "sales team"}, "10017"),
        ({"number": "2001", "pickupgroup": "x" * 33}, "10017"),
        ({"number": "2001", "pickupgroup": "<script>"}, "10017"),
        ({"number": "2001", "pickupgroup": "s\u00e4les"}, "10017"),
        ({"number": "2001", "pickupgroup": "a'; DROP TABLE extension;--"}, "10017"),
        ({"number": "9999", "pickupgroup": "sales"}, "10006"),
        ({"number": "9" * 5000, "pickupgroup": "sales"}, "10006"),
    ],
)
def test_bad_updates_answer_their_errno(
    call_pbx: PbxProcess, token: str, body: dict[str, Any], errno: str
) -> None:
    answer = call_pbx.api("extension/pickupgroup/update", body, token=token)
    assert answer == {"status": "Failed", "errno": errno}
    shown = call_pbx.api("extension/pickupgroup/query", {}, token=token)
    assert shown["pickupgroups"] == [] and shown["nogroup"] == "2001,2002,2003"


def test_star_8_answers_the_call_ringing_in_the_group(
    call_pbx: PbxProcess, token: str, groups: None, callee_port: int, workdir: Path
) -> None:
    caller, picker = RtpPhone("PCMU", 0), RtpPhone("PCMU", 0)
    ringing = answer(call_pbx, callee_port, workdir, scenario="uas_ring.xml")
    picking_dir = workdir / "picker"
    picking_dir.mkdir()
    try:
        probe = Caller(call_pbx, "2003")
        try:
            assert probe.invite("*8").status == 404  # nothing rings in the group yet
        finally:
            probe.close()
        uac = call(
            call_pbx, "2001", "2002", workdir, scenario="uac_media_wait_bye.xml", rtp=caller.port
        )
        ringing_call = shown(call_pbx, token, [("2001", "ALERT"), ("2002", "RING")])
        outsider = Caller(call_pbx, "2001")  # in no group (and the caller)
        try:
            assert outsider.invite("*8").status == 404
        finally:
            outsider.close()
        pickup = call(
            call_pbx, "2003", "*8", picking_dir, scenario="uac_media_wait_bye.xml", rtp=picker.port
        )
        now = shown(call_pbx, token, [("2001", "ANSWERED"), ("2003", "ANSWER")])
        assert now["callid"] == ringing_call["callid"]
        ringing.finish()  # the phone that rang got a CANCEL
        to_caller = (HOST, pbx_media_port(workdir, "caller"))
        to_picker = (HOST, pbx_media_port(picking_dir, "caller"))
        talk(caller, to_caller, picker, to_picker, a_hz=1000, b_hz=600, milliseconds=1000)
        assert 550 < dominant_frequency(caller.decoded(), caller.rate) < 650
        assert 950 < dominant_frequency(picker.decoded(), picker.rate) < 1050
        call_pbx.api("call/hangup", {"callid": now["callid"]}, token=token)
        uac.finish()
        pickup.finish()
    finally:
        ringing.kill()
        caller.close()
        picker.close()
