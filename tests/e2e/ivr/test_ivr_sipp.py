"""sipp calls into an IVR through `kilopbx serve` and presses keys the three ways
phones do: RFC 4733 (the pcaps shipped with sipp), SIP INFO, and in-band tones (a pcap
of G.711 audio). The branch taken shows on the wire: the extension the key leads to
answers (a sipp callee that finishes only when it got the call), the IVR hangs up on
invalid input, the timeout destination rings when nothing is pressed. `DTMF` events
reach a 2.0.0 and a legacy session with the right digits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.calls.peers import Sipp, answer, start
from tests.e2e.ivr.caller import (
    call_ivr,
    inband_pcap,
    press_info,
    press_pcap,
    scenario,
    sipp_pcap,
)
from tests.e2e.ivr.conftest import IVR_MAIN
from tests.harness import EventReceiver, PbxProcess

pytestmark = pytest.mark.peers


@pytest.fixture
def receivers(ivr_pbx: PbxProcess) -> Iterator[tuple[EventReceiver, EventReceiver]]:
    """A 2.0.0 session and a legacy (L2) session, each with its own receiver."""
    v2, legacy = EventReceiver().start(), EventReceiver().start()
    ivr_pbx.login(port=v2.port)
    ivr_pbx.login_legacy(port=legacy.port, version="1.0.2")
    yield v2, legacy
    v2.stop()
    legacy.stop()


def finish_all(*peers: Sipp) -> None:
    try:
        for peer in peers:
            peer.finish()
    finally:
        for peer in peers:
            peer.kill()


def test_rfc4733_key_rings_its_extension_and_is_reported(
    ivr_pbx: PbxProcess,
    phones: dict[str, int],
    workdir: Path,
    receivers: tuple[EventReceiver, EventReceiver],
) -> None:
    callee = answer(ivr_pbx, phones["2002"], workdir)
    text = scenario("2001", [press_pcap(sipp_pcap("1"))], connected=True)
    finish_all(call_ivr(ivr_pbx, "2001", IVR_MAIN, workdir, text), callee)
    v2, legacy = receivers
    [event] = [e for e in v2.wait_for(lambda es: any(e.get("event") == "DTMF" for e in es))
               if e.get("event") == "DTMF"]  # fmt: skip
    assert (event["info"], event["flag"], event["infos"]) == ("1", "0", "1")
    [member] = event["members"]
    assert member["ext"]["number"] == "2001"
    assert member["ext"]["memberstatus"] == "ANSWERED"
    assert member["ext"]["callpath"] == IVR_MAIN
    assert member["ext"]["channelid"].startswith("PJSIP/2001-")
    [report] = [r for r in legacy.wait_for(lambda rs: any(r.get("action") == "DTMF" for r in rs))
                if r.get("action") == "DTMF"]  # fmt: skip
    assert report["call"] == [{"ext": {"extid": "2001"}}]
    assert (report["info"], report["flag"], report["infos"]) == ("1", "0", "1")
    assert report["callid"] == event["callid"]


def test_no_key_goes_to_the_timeout_destination(
    ivr_pbx: PbxProcess, phones: dict[str, int], workdir: Path
) -> None:
    callee = answer(ivr_pbx, phones["2003"], workdir)
    text = scenario("2001", [], connected=True, talk_ms=3500)
    finish_all(call_ivr(ivr_pbx, "2001", IVR_MAIN, workdir, text), callee)


def test_an_invalid_key_hangs_up(
    ivr_pbx: PbxProcess, workdir: Path, receivers: tuple[EventReceiver, EventReceiver]
) -> None:
    text = scenario("2001", [press_pcap(sipp_pcap("7"), ms=0)], connected=False)
    finish_all(call_ivr(ivr_pbx, "2001", IVR_MAIN, workdir, text))
    v2, _ = receivers
    events = v2.wait_for(lambda es: any(e.get("event") == "NewCdr" for e in es))
    [cdr] = [e for e in events if e.get("event") == "NewCdr"]
    # the PBX answered: a call to the IVR that ended there is an answered call to it
    assert (cdr["callfrom"], cdr["callto"], cdr["status"]) == ("2001", IVR_MAIN, "ANSWERED")
    [dtmf] = [e for e in events if e.get("event") == "DTMF"]
    assert dtmf["callid"] == cdr["callid"] and dtmf["info"] == "7"
    # the menu prompt ended (cut short by the key): PlayPromptEnd, variant B
    [ended] = [e for e in events if e.get("event") == "PlayPromptEnd"]
    assert ended["callid"] == cdr["callid"] and ended["ivr"] == {"number": IVR_MAIN}
    [member] = ended["members"]
    assert member["ext"]["number"] == "2001" and member["ext"]["callpath"] == IVR_MAIN
    assert "memberstatus" not in member["ext"]


def test_hangup_key(ivr_pbx: PbxProcess, workdir: Path) -> None:
    text = scenario("2001", [press_pcap(sipp_pcap("9"), ms=0)], connected=False)
    finish_all(call_ivr(ivr_pbx, "2001", IVR_MAIN, workdir, text))


def test_sip_info_keys_enter_a_sub_menu_and_dial_an_extension(
    ivr_pbx: PbxProcess,
    phones: dict[str, int],
    workdir: Path,
    receivers: tuple[EventReceiver, EventReceiver],
) -> None:
    """Key 2 enters IVR 6202, where 2-0-0-2 then # dials extension 2002 directly."""
    callee = answer(ivr_pbx, phones["2002"], workdir)
    keys = [press_info("2001", key, cseq=10 + i) for i, key in enumerate("22002#")]
    text = scenario("2001", keys, connected=True)
    finish_all(call_ivr(ivr_pbx, "2001", IVR_MAIN, workdir, text), callee)
    v2, _ = receivers
    events = v2.wait_for(lambda es: sum(e.get("event") == "DTMF" for e in es) >= 5)
    digits = [(e["info"], e["flag"], e["infos"], e["members"][0]["ext"]["callpath"])
              for e in events if e.get("event") == "DTMF"]  # fmt: skip
    assert digits == [
        ("2", "0", "2", IVR_MAIN),
        ("2", "0", "2", "6202"),  # a new menu: the input starts again
        ("0", "1", "20", "6202"),
        ("0", "2", "200", "6202"),
        ("2", "3", "2002", "6202"),
    ]


def test_in_band_tones_are_keys_on_a_leg_without_telephone_event(
    ivr_pbx: PbxProcess, phones: dict[str, int], workdir: Path
) -> None:
    callee = answer(ivr_pbx, phones["2002"], workdir)
    pcap = inband_pcap(workdir / "key1.pcap", "1")
    text = scenario("2001", [press_pcap(pcap, ms=800)], events=False, connected=True)
    finish_all(call_ivr(ivr_pbx, "2001", IVR_MAIN, workdir, text), callee)


def test_in_band_invalid_key_hangs_up(ivr_pbx: PbxProcess, workdir: Path) -> None:
    pcap = inband_pcap(workdir / "key7.pcap", "7")
    text = scenario("2001", [press_pcap(pcap, ms=0)], events=False, connected=False)
    finish_all(call_ivr(ivr_pbx, "2001", IVR_MAIN, workdir, text))


def test_rfc4733_key_reaches_a_callee_without_telephone_event_as_sip_info(
    ivr_pbx: PbxProcess, phones: dict[str, int], workdir: Path
) -> None:
    """Key 1 connects the caller to 2002, whose SDP has no telephone-event; the
    caller's next key (5, RFC 4733 from sipp's pcap) reaches 2002 as SIP INFO."""
    scenario_file = Path(__file__).resolve().parent / "scenarios" / "uas_info_keys.xml"
    callee = start(ivr_pbx, str(scenario_file), workdir, port=phones["2002"])
    keys = [press_pcap(sipp_pcap("1"), ms=2000), press_pcap(sipp_pcap("5"), ms=1000)]
    text = scenario("2001", keys, connected=True, talk_ms=500)
    finish_all(call_ivr(ivr_pbx, "2001", IVR_MAIN, workdir, text), callee)


def test_caller_hangs_up_during_the_menu(
    ivr_pbx: PbxProcess, workdir: Path, receivers: tuple[EventReceiver, EventReceiver]
) -> None:
    text = scenario("2001", [], connected=True, talk_ms=300)  # BYE while the prompt plays
    finish_all(call_ivr(ivr_pbx, "2001", IVR_MAIN, workdir, text))
    v2, _ = receivers
    events = v2.wait_for(lambda es: any(e.get("event") == "NewCdr" for e in es))
    [cdr] = [e for e in events if e.get("event") == "NewCdr"]
    assert (cdr["callto"], cdr["status"]) == (IVR_MAIN, "ANSWERED")
    assert not [e for e in events if e.get("event") == "DTMF"]
