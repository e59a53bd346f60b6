"""A blind transfer made on a real phone: baresip 2001 calls baresip 2002, whose user
transfers the call to baresip 2003 (SIP REFER). The PBX accepts it, reports progress
by NOTIFY, releases 2002 and rings 2003 in the same call; 2001 and 2003 then hear
each other (each phone dumps what it hears; the tone's frequency tells whose it is),
and a ``Tranfer`` event names the transferred party and the transferor.

Like ``test_baresip_calls``, the PBX and the phones run in a private network
namespace (``unshare -n``, root only); the test runs this module again inside it.
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
TONES = {"2001": 1000, "2002": 500, "2003": 1500}

pytestmark = pytest.mark.peers


def inside() -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from tests.e2e.calls.baresip_phone import Baresip
    from tests.e2e.calls.peers import add_extensions
    from tests.harness import EventReceiver, PbxProcess, free_port
    from tests.media_audio import dominant_frequency

    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "addr", "add", f"{NAMESPACE_IP}/8", "dev", "lo"], check=True)
    work = Path(tempfile.mkdtemp(prefix="baresip-transfer-"))
    pbx = PbxProcess(work / "pbx", {"KILOPBX_REGISTRAR_QUALIFY_INTERVAL": "0"})
    receiver = EventReceiver().start()
    phones: dict[str, Baresip] = {}
    result: dict[str, Any] = {}
    try:
        pbx.start()
        token = pbx.login(port=receiver.port)
        add_extensions(pbx, token, tuple(TONES))
        for number, frequency in TONES.items():
            phones[number] = Baresip(
                work,
                number=number,
                password=PASSWORD,
                listen=f"{NAMESPACE_IP}:0",
                pbx_port=pbx.sip_port,
                control_port=free_port(),
                frequency=frequency,
                auto_answer=number != "2001",
            )
        for phone in phones.values():
            phone.connect()
        deadline = time.monotonic() + 15
        while True:
            listing = pbx.api("extension/list", {}, token=token)["extlist"]
            statuses = {e["number"]: e["status"] for e in listing}
            if all(statuses[n] == "Registered" for n in TONES):
                break
            assert time.monotonic() < deadline, statuses
            time.sleep(0.1)
        caller, transferor, target = phones["2001"], phones["2002"], phones["2003"]
        caller.command("dial", f"sip:2002@127.0.0.1:{pbx.sip_port}")
        caller.wait_event("CALL_ESTABLISHED")
        transferor.wait_event("CALL_ESTABLISHED")
        before = pbx.api("call/query", {"type": "internal"}, token=token)["calls"]
        time.sleep(1.0)
        transferor.command("transfer", f"sip:2003@127.0.0.1:{pbx.sip_port}")
        target.wait_event("CALL_ESTABLISHED")
        result["transferor"] = transferor.wait_event("CALL_CLOSED")["type"]
        time.sleep(2.5)
        after = pbx.api("call/query", {"type": "internal"}, token=token)["calls"]
        result["same_call"] = [c["callid"] for c in before] == [c["callid"] for c in after]
        result["members_after"] = [
            (m["ext"]["number"], m["ext"]["memberstatus"]) for c in after for m in c["members"]
        ]
        caller.command("hangup")
        result["closed"] = target.wait_event("CALL_CLOSED")["type"]
        time.sleep(0.3)  # sndfile closes its dump with the call
        for number in ("2001", "2003"):
            pcm, rate = phones[number].heard()
            result[f"{number}_heard_last_hz"] = dominant_frequency(pcm[-SECOND:], rate)
        events = receiver.wait_for(lambda evs: any(e.get("event") == "NewCdr" for e in evs))
        result["tranfer"] = [e for e in events if e.get("event") == "Tranfer"]
        result["callid"] = after[0]["callid"] if after else ""
        result["calls_left"] = pbx.api("call/query", {"type": "internal"}, token=token)["calls"]
    except BaseException as exc:
        result["error"] = repr(exc)
        result["pbx_log"] = pbx.log_tail(30)
        for phone in phones.values():
            if phone.log.exists():
                result[f"log_{phone.dir.name}"] = phone.log.read_text(errors="replace")[-2000:]
    finally:
        for phone in phones.values():
            phone.stop()
        receiver.stop()
        pbx.stop()
        shutil.rmtree(work, ignore_errors=True)
    return result


@pytest.mark.skipif(os.geteuid() != 0, reason="unshare -n needs root")
@pytest.mark.skipif(not Path("/usr/bin/baresip").exists(), reason="baresip is not installed")
def test_a_phone_transfers_its_call_by_refer() -> None:
    proc = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "tests.e2e.calls.test_baresip_transfer"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, (proc.stdout[-2000:], proc.stderr[-2000:])
    result = json.loads(lines[-1])
    assert "error" not in result, result
    assert result["transferor"] == "CALL_CLOSED" and result["closed"] == "CALL_CLOSED"
    assert result["same_call"], result
    assert result["members_after"] == [["2001", "ANSWERED"], ["2003", "ANSWER"]], result
    assert 1400 < result["2001_heard_last_hz"] < 1600, result  # 2003's tone
    assert 950 < result["2003_heard_last_hz"] < 1050, result  # 2001's tone
    (tranfer,) = result["tranfer"]
    assert tranfer["callid"] == result["callid"]
    assert [m["ext"]["number"] for m in tranfer["members"]] == ["2001", "2002"]
    assert all("memberstatus" not in m["ext"] for m in tranfer["members"])
    assert result["calls_left"] == []


if __name__ == "__main__":
    print(json.dumps(inside()), flush=True)
