"""Two baresip softphones call each other through the PBX: audio both ways (each
dumps what it hears; the tone's frequency tells whose it is), a DTMF digit, hold and
resume with audio afterwards, hang-up.

baresip advertises its first non-loopback address, so the PBX and both phones run
inside a private network namespace made for the test (``unshare -n``, root only),
like the registrar's baresip test. The test runs this module again inside the
namespace; that process prints one JSON line with what it saw.
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
SECOND = 8000 * 2  # bytes of one second of 8 kHz 16-bit audio

pytestmark = pytest.mark.peers


def inside() -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from tests.e2e.calls.baresip_phone import Baresip
    from tests.e2e.calls.peers import add_extensions
    from tests.harness import PbxProcess, free_port
    from tests.media_audio import dominant_frequency

    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "addr", "add", f"{NAMESPACE_IP}/8", "dev", "lo"], check=True)
    work = Path(tempfile.mkdtemp(prefix="baresip-calls-"))
    pbx = PbxProcess(work / "pbx", {"KILOPBX_REGISTRAR_QUALIFY_INTERVAL": "0"})
    phones: list[Baresip] = []
    result: dict[str, Any] = {}
    try:
        pbx.start()
        token = pbx.login()
        add_extensions(pbx, token, ("2001", "2002"))
        for number, frequency in (("2001", 1000), ("2002", 500)):
            phones.append(
                Baresip(
                    work,
                    number=number,
                    password=PASSWORD,
                    listen=f"{NAMESPACE_IP}:0",
                    pbx_port=pbx.sip_port,
                    control_port=free_port(),
                    frequency=frequency,
                    auto_answer=number == "2002",
                )
            )
        caller, callee = phones
        for phone in phones:
            phone.connect()
        deadline = time.monotonic() + 15
        while True:
            listing = pbx.api("extension/list", {}, token=token)["extlist"]
            statuses = {e["number"]: e["status"] for e in listing}
            if statuses["2001"] == statuses["2002"] == "Registered":
                break
            assert time.monotonic() < deadline, statuses
            time.sleep(0.1)
        caller.command("dial", f"sip:2002@127.0.0.1:{pbx.sip_port}")
        caller.wait_event("CALL_ESTABLISHED")
        callee.wait_event("CALL_ESTABLISHED")
        time.sleep(1.5)
        caller.command("sndcode", "5")
        result["dtmf"] = callee.wait_event("CALL_DTMF_START")["param"]
        caller.command("hold")
        time.sleep(1.0)
        caller.command("resume")
        time.sleep(2.0)
        caller.command("hangup")
        result["closed"] = callee.wait_event("CALL_CLOSED")["type"]
        time.sleep(0.3)  # sndfile closes its dump with the call
        for phone, name in ((caller, "caller"), (callee, "callee")):
            pcm, rate = phone.heard()
            # the first second, before the hold: on hold the callee hears the hold music
            result[f"{name}_heard_hz"] = dominant_frequency(pcm[: rate * 2], rate)
            result[f"{name}_heard_after_resume_hz"] = dominant_frequency(pcm[-SECOND:], rate)
        result["calls_left"] = pbx.api("call/query", {"type": "internal"}, token=token)["calls"]
    except BaseException as exc:
        result["error"] = repr(exc)
        result["pbx_log"] = pbx.log_tail(30)
        for phone in phones:
            if phone.log.exists():
                result[f"log_{phone.dir.name}"] = phone.log.read_text(errors="replace")[-2000:]
    finally:
        for phone in phones:
            phone.stop()
        pbx.stop()
        shutil.rmtree(work, ignore_errors=True)
    return result


@pytest.mark.skipif(os.geteuid() != 0, reason="unshare -n needs root")
@pytest.mark.skipif(not Path("/usr/bin/baresip").exists(), reason="baresip is not installed")
def test_two_baresip_phones_talk_through_the_pbx() -> None:
    proc = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "tests.e2e.calls.test_baresip_calls"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, (proc.stdout[-2000:], proc.stderr[-2000:])
    result = json.loads(lines[-1])
    assert "error" not in result, result
    assert 450 < result["caller_heard_hz"] < 550, result
    assert 950 < result["callee_heard_hz"] < 1050, result
    assert 450 < result["caller_heard_after_resume_hz"] < 550, result
    assert 950 < result["callee_heard_after_resume_hz"] < 1050, result
    assert result["dtmf"] == "5"
    assert result["closed"] == "CALL_CLOSED"
    assert result["calls_left"] == []


if __name__ == "__main__":
    print(json.dumps(inside()), flush=True)
