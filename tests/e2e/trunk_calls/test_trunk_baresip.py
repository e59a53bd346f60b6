"""A provider's call to a DID reaches a baresip phone that answers by itself; each
side hears the other's tone. The provider is sipp on a peer trunk's address with the
test's own RTP socket sending 1 kHz; the phone plays 500 Hz and dumps what it hears.

baresip advertises its first non-loopback address, so everything runs inside a
private network namespace made for the test (``unshare -n``, root only), like the
other baresip tests. The test runs this module again inside the namespace; that
process prints one JSON line with what it saw.
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

pytestmark = pytest.mark.peers


def inside() -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from tests.e2e.calls.baresip_phone import Baresip
    from tests.e2e.calls.peers import add_extensions, pbx_media_port, start
    from tests.e2e.calls.rtp_phone import RtpPhone
    from tests.harness import HOST, PbxProcess, free_port
    from tests.media_audio import dominant_frequency

    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "addr", "add", f"{NAMESPACE_IP}/8", "dev", "lo"], check=True)
    work = Path(tempfile.mkdtemp(prefix="baresip-trunk-"))
    pbx = PbxProcess(work / "pbx", {"KILOPBX_REGISTRAR_QUALIFY_INTERVAL": "0"})
    phone: Baresip | None = None
    outside = RtpPhone("PCMU", 0)
    result: dict[str, Any] = {}
    try:
        pbx.start()
        token = pbx.login()
        add_extensions(pbx, token, ("2002",))
        provider_port = free_port(udp_too=True)
        for endpoint, body in (
            ("trunk/add_siptrunk", {"trunkname": "Carrier", "trunktype": "peer", "host": HOST,
                                    "port": str(provider_port), "domain": "carrier.test"}),
            ("inroute/add", {"name": "Main", "did": "4402000", "caller_id": "",
                             "trunks": "Carrier", "desttype": "extension", "dest": "2002"}),
        ):  # fmt: skip
            answer = pbx.api(endpoint, body, token=token)
            assert answer["status"] == "Success", answer
        phone = Baresip(
            work, number="2002", password=PASSWORD, listen=f"{NAMESPACE_IP}:0",
            pbx_port=pbx.sip_port, control_port=free_port(), frequency=500, auto_answer=True,
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
        caller = start(
            pbx, str(here / "provider_call.xml"), work_sipp, port=provider_port,
            variables={"caller": "0700111222", "rtp": str(outside.port), "pts": "0"},
            extra=["-s", "4402000", "-d", "4000"],
        )  # fmt: skip
        to_pbx = (HOST, pbx_media_port(work_sipp, "caller"))
        phone.wait_event("CALL_ESTABLISHED")
        frames = outside.frames(1000, 3000)
        begin = time.monotonic()
        for index, payload in enumerate(frames):
            outside.send(to_pbx, payload, index)
            outside.drain()
            pause = begin + (index + 1) * FRAME_MS / 1000 - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        outside.drain()
        caller.finish()
        result["closed"] = phone.wait_event("CALL_CLOSED")["type"]
        time.sleep(0.3)  # sndfile closes its dump with the call
        pcm, rate = phone.heard()
        result["phone_heard_hz"] = dominant_frequency(pcm, rate)
        result["outside_heard_hz"] = dominant_frequency(outside.decoded(), outside.rate)
        result["calls_left"] = pbx.api("call/query", {"type": "inbound"}, token=token)["calls"]
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
        shutil.rmtree(work, ignore_errors=True)
    return result


@pytest.mark.skipif(os.geteuid() != 0, reason="unshare -n needs root")
@pytest.mark.skipif(not Path("/usr/bin/baresip").exists(), reason="baresip is not installed")
def test_a_call_to_a_did_reaches_a_baresip_phone_with_audio_both_ways() -> None:
    proc = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "tests.e2e.trunk_calls.test_trunk_baresip"],
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
    assert 950 < result["phone_heard_hz"] < 1050, result
    assert 450 < result["outside_heard_hz"] < 550, result
    assert result["closed"] == "CALL_CLOSED"
    assert result["calls_left"] == []


if __name__ == "__main__":
    print(json.dumps(inside()), flush=True)
