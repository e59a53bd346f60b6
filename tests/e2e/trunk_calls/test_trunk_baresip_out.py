"""A baresip phone (2002) dials 9 + an outside number: the outbound route (prefix 9,
strip 1, prepend 00) sends it out on the peer trunk, whose provider (sipp) gets the
rewritten number with the trunk's caller ID for 2002 and answers; each side hears the
other's tone. Then the phone dials a number only 2003 may call (refused, CallFailed
"NO Outbound Restriction") and one whose route tries a silent trunk first (out on
the second). The same pattern as test_trunk_baresip.py: baresip advertises its first
non-loopback address, so this module runs itself again inside a private network
namespace (``unshare -n``, root only) and prints one JSON line with what it saw.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
PASSWORD = "Kx7mPq2wRt9vBn4Z"
NAMESPACE_IP = "10.99.0.1"
FRAME_MS = 20
DIALLED = "9441632960123"

pytestmark = pytest.mark.peers


def inside() -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from tests.e2e.calls.baresip_phone import Baresip
    from tests.e2e.calls.peers import add_extensions, pbx_media_port, start
    from tests.e2e.calls.rtp_phone import RtpPhone
    from tests.e2e.trunk_calls.provider_peer import OptionsResponder
    from tests.harness import HOST, EventReceiver, PbxProcess, free_port
    from tests.media_audio import dominant_frequency

    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "addr", "add", f"{NAMESPACE_IP}/8", "dev", "lo"], check=True)
    work = Path(tempfile.mkdtemp(prefix="baresip-trunk-out-"))
    pbx = PbxProcess(
        work / "pbx",
        {"KILOPBX_REGISTRAR_QUALIFY_INTERVAL": "0", "KILOPBX_CALL_TRUNK_TIMEOUT": "1"},
    )
    events = EventReceiver().start()
    phone: Baresip | None = None
    outside = RtpPhone("PCMU", 0)
    result: dict[str, Any] = {}
    try:
        pbx.start()
        token = pbx.login(port=events.port)
        add_extensions(pbx, token, ("2002",))
        provider_port = free_port(udp_too=True)
        # the new trunk's first OPTIONS is answered here, then its keep-alive is switched
        # off, so no probe reaches the sipp provider (which would take it for the call)
        responder = OptionsResponder(provider_port)
        try:
            answer = pbx.api(
                "trunk/add_siptrunk",
                {"trunkname": "Carrier", "trunktype": "peer", "host": HOST,
                 "port": str(provider_port), "domain": "provider.test",
                 "extensionsdod": "4402100-FrontDesk-2002"},
                token=token,
            )  # fmt: skip
            assert answer["status"] == "Success", answer
            deadline = time.monotonic() + 15
            while True:
                trunks = pbx.api("trunk/list", {}, token=token)["trunklist"]
                if trunks[0]["status"] == "Registered":
                    break
                assert time.monotonic() < deadline, trunks
                time.sleep(0.05)
        finally:
            responder.close()
        for endpoint, body in (
            ("trunk/update_settings", {"id": trunks[0]["id"], "qualify": "0"}),
            ("outroute/add", {"name": "Intl", "prefix": "9.", "strip": "1", "prepend": "00",
                              "trunks": "Carrier", "extensions": "2002"}),
        ):  # fmt: skip
            answer = pbx.api(endpoint, body, token=token)
            assert answer["status"] == "Success", answer
        phone = Baresip(
            work, number="2002", password=PASSWORD, listen=f"{NAMESPACE_IP}:0",
            pbx_port=pbx.sip_port, control_port=free_port(), frequency=500,
        )  # fmt: skip
        phone.connect()
        deadline = time.monotonic() + 15
        while True:
            listing = pbx.api("extension/list", {}, token=token)["extlist"]
            if {e["number"]: e["status"] for e in listing}.get("2002") == "Registered":
                break
            assert time.monotonic() < deadline, listing
            time.sleep(0.1)
        work_sipp = work / "sipp"
        work_sipp.mkdir()
        here = Path(__file__).resolve().parent / "scenarios"
        provider = start(
            pbx, str(here / "provider_answer_media.xml"), work_sipp, port=provider_port,
            variables={"rtp": str(outside.port)}, extra=["-trace_msg"],
        )  # fmt: skip
        phone.command("dial", f"sip:{DIALLED}@127.0.0.1:{pbx.sip_port}")
        phone.wait_event("CALL_ESTABLISHED")
        to_pbx = (HOST, pbx_media_port(work_sipp, "provider"))
        result["live"] = pbx.api("call/query", {"type": "outbound"}, token=token)["calls"]
        frames = outside.frames(1000, 2000)
        begin = time.monotonic()
        for index, payload in enumerate(frames):
            outside.send(to_pbx, payload, index)
            outside.drain()
            pause = begin + (index + 1) * FRAME_MS / 1000 - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        outside.drain()
        phone.command("hangup")
        result["closed"] = phone.wait_event("CALL_CLOSED")["type"]
        provider.finish()
        logs = sorted(work_sipp.glob("provider_answer_media_*_messages.log"))
        text = logs[-1].read_text(errors="replace") if logs else ""
        invites = [part for part in text.split("\n\n") if "INVITE sip:" in part]
        result["invite"] = invites[-1][invites[-1].index("INVITE sip:") :] if invites else text
        time.sleep(0.3)  # sndfile closes its dump with the call
        pcm, rate = phone.heard()
        result["phone_heard_hz"] = dominant_frequency(pcm, rate)
        result["outside_heard_hz"] = dominant_frequency(outside.decoded(), outside.rate)

        def cdrs(seen: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [e for e in seen if e.get("event") == "NewCdr" and e.get("callto") == DIALLED]

        result["cdr"] = cdrs(events.wait_for(lambda seen: bool(cdrs(seen))))[0]
        result["calls_left"] = pbx.api("call/query", {"type": "outbound"}, token=token)["calls"]
        refused_and_failed_over(pbx, token, events, phone, provider_port, work, result)
    except BaseException as exc:
        result["error"] = repr(exc)
        result["pbx_log"] = pbx.log_tail(30)
        if phone is not None and phone.log.exists():
            result["phone_log"] = phone.log.read_text(errors="replace")[-2000:]
    finally:
        outside.close()
        if phone is not None:
            phone.stop()
        pbx.stop()
        events.stop()
        shutil.rmtree(work, ignore_errors=True)
    return result


def refused_and_failed_over(
    pbx: Any, token: str, events: Any, phone: Any, provider_port: int, work: Path,
    result: dict[str, Any],
) -> None:  # fmt: skip
    """The same phone dials a number only 2003 may call (refused with the spec's
    reason), then one whose route tries a silent trunk first (the call goes out on
    the second)."""
    from tests.e2e.calls.peers import start
    from tests.harness import HOST, free_port

    silent_port = free_port(udp_too=True)  # nothing listens there
    for endpoint, body in (
        ("extension/add", {"number": "2003", "username": "Other", "registername": "2003",
                           "registerpassword": PASSWORD}),
        ("outroute/add", {"name": "OnlyFor2003", "prefix": "8.", "strip": "1",
                          "trunks": "Carrier", "extensions": "2003"}),
        ("trunk/add_siptrunk", {"trunkname": "Silent", "trunktype": "peer", "host": HOST,
                                "port": str(silent_port), "domain": "silent.test"}),
        ("outroute/add", {"name": "Failover", "prefix": "6.", "strip": "1",
                          "trunks": "Silent,Carrier", "extensions": "2002"}),
    ):  # fmt: skip
        answer = pbx.api(endpoint, body, token=token)
        assert answer["status"] == "Success", answer
    phone.command("dial", f"sip:8123@127.0.0.1:{pbx.sip_port}")
    phone.wait_event("CALL_CLOSED")

    def refusals(seen: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in seen if e.get("event") == "CallFailed"]

    result["refused"] = refusals(events.wait_for(lambda seen: bool(refusals(seen))))[0]
    work_sipp = work / "sipp-failover"
    work_sipp.mkdir()
    here = Path(__file__).resolve().parent / "scenarios"
    provider = start(
        pbx, str(here / "provider_answer.xml"), work_sipp, port=provider_port,
        variables={"rtp": "9"}, extra=["-trace_msg"],
    )  # fmt: skip
    phone.command("dial", f"sip:6555@127.0.0.1:{pbx.sip_port}")
    phone.wait_event("CALL_ESTABLISHED")
    phone.command("hangup")
    phone.wait_event("CALL_CLOSED")
    provider.finish()
    text = next(work_sipp.glob("provider_answer_*_messages.log")).read_text(errors="replace")
    result["failover_uri"] = text[text.index("INVITE sip:") :].split(" ", 2)[1]

    def failover_cdrs(seen: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in seen if e.get("event") == "NewCdr" and e.get("callto") == "6555"]

    result["failover_cdr"] = failover_cdrs(events.wait_for(lambda s: bool(failover_cdrs(s))))[0]


@pytest.mark.skipif(os.geteuid() != 0, reason="unshare -n needs root")
@pytest.mark.skipif(not Path("/usr/bin/baresip").exists(), reason="baresip is not installed")
def test_a_baresip_phone_calls_out_through_the_route_and_trunk_with_audio_both_ways() -> None:
    proc = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "tests.e2e.trunk_calls.test_trunk_baresip_out"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=120,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, (proc.stdout[-2000:], proc.stderr[-2000:])
    result = json.loads(lines[-1])
    assert "error" not in result, result
    invite = result["invite"]
    # route Intl: prefix 9 stripped, 00 prepended; the trunk's caller ID for 2002
    assert invite.startswith("INVITE sip:00441632960123@provider.test"), invite[:300]
    assert 'From: "FrontDesk" <sip:4402100@provider.test>' in invite, invite
    assert 'P-Asserted-Identity: "FrontDesk" <sip:4402100@provider.test>' in invite, invite
    [live] = result["live"]
    outbound = [m["outbound"] for m in live["members"] if "outbound" in m]
    assert outbound and outbound[0]["trunkname"] == "Carrier", live
    assert outbound[0]["from"] == "2002" and outbound[0]["to"] == "00441632960123", live
    cdr = result["cdr"]
    assert (cdr["type"], cdr["dsttrcunkname"], cdr["status"]) == ("Outbound", "Carrier", "ANSWERED")
    assert cdr["callfrom"] == "2002" and cdr["callid"] == live["callid"], cdr
    assert 450 < result["outside_heard_hz"] < 550, result
    assert 950 < result["phone_heard_hz"] < 1050, result
    assert result["closed"] == "CALL_CLOSED"
    assert result["calls_left"] == []
    # a caller without permission: refused with the spec's reason
    refused = result["refused"]
    assert refused["reason"] == "NO Outbound Restriction", refused
    assert refused["members"][0]["ext"]["number"] == "2002", refused
    # the first trunk silent: out on the second, stripped as the route says
    assert result["failover_uri"] == "sip:555@provider.test", result["failover_uri"]
    failover = result["failover_cdr"]
    assert (failover["dsttrcunkname"], failover["status"]) == ("Carrier", "ANSWERED"), failover


if __name__ == "__main__":
    print(json.dumps(inside()), flush=True)
