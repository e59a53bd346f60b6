"""baresip, a real softphone with its own digest code, registers with the PBX.

baresip advertises its first non-loopback address, so the PBX, the event receiver and
baresip all run inside a private network namespace made for the test (``unshare -n``,
root only): there ``lo`` is brought up and gets 10.99.0.1/8 as well. The test runs
this module again inside the namespace (``--inside``); that process does the work and
prints one JSON line with what it saw.
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

ROOT = Path(__file__).resolve().parents[2]
NUMBER, AUTH_NAME, PASSWORD = "2001", "ana2001", "Kx7mPq2wRt9vBn4Z"
NAMESPACE_IP = "10.99.0.1"
BARESIP = "/usr/bin/baresip"

pytestmark = pytest.mark.peers


def baresip_config(directory: Path, sip_port: int, transport: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config").write_text(
        "\n".join(
            [
                "poll_method epoll",
                f"sip_listen {NAMESPACE_IP}:0",
                "module_path /usr/lib/baresip/modules",
                "module g711.so",
                "module_app account.so",
                "audio_player aubridge,nil",
                "audio_source aubridge,nil",
                "",
            ]
        )
    )
    account = (
        f"<sip:{NUMBER}@127.0.0.1:{sip_port};transport={transport}>"
        f";auth_user={AUTH_NAME};auth_pass={PASSWORD};regint=120\n"
    )
    (directory / "accounts").write_text(account)


def inside(transport: str) -> dict[str, Any]:
    """Runs in the namespace: PBX + receiver + baresip; returns what happened."""
    sys.path.insert(0, str(ROOT))
    from tests.harness import EventReceiver, PbxProcess

    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "addr", "add", f"{NAMESPACE_IP}/8", "dev", "lo"], check=True)
    work = Path(tempfile.mkdtemp(prefix="baresip-"))
    receiver = EventReceiver().start()
    pbx = PbxProcess(work / "pbx", {"KILOPBX_REGISTRAR_QUALIFY_INTERVAL": "5"})
    phone: subprocess.Popen[bytes] | None = None
    result: dict[str, Any] = {}
    try:
        pbx.start()
        token = pbx.login(port=receiver.port)
        answer = pbx.api(
            "extension/add",
            {
                "number": NUMBER,
                "username": "Ana",
                "registername": AUTH_NAME,
                "registerpassword": PASSWORD,
            },
            token=token,
        )
        assert answer["status"] == "Success", answer
        baresip_config(work / "baresip", pbx.sip_port, transport)
        log = open(work / "baresip.log", "wb")  # noqa: SIM115 - handed to the child
        phone = subprocess.Popen(
            [BARESIP, "-f", str(work / "baresip"), "-s"], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()

        def registered(events: list[dict[str, Any]]) -> bool:
            return any(e.get("event") == "ExtensionStatus" for e in events)

        events = receiver.wait_for(registered, timeout=15)
        result["event"] = next(e for e in events if e.get("event") == "ExtensionStatus")
        listing = pbx.api("extension/list", {}, token=token)["extlist"]
        result["status"] = {e["number"]: e["status"] for e in listing}[NUMBER]
        time.sleep(7)  # one qualify round: baresip answers OPTIONS, stays registered
        listing = pbx.api("extension/list", {}, token=token)["extlist"]
        result["status_after_qualify"] = {e["number"]: e["status"] for e in listing}[NUMBER]
        phone.terminate()  # baresip unregisters on the way out
        phone.wait(10)
        receiver.wait_for(lambda ev: any(e.get("status") == "Unregistered" for e in ev), timeout=10)
        result["events"] = receiver.named("ExtensionStatus")
        trace = (work / "baresip.log").read_text(errors="replace")
        result["qualified"] = "\nOPTIONS sip:" in trace
        result["authorization"] = [
            line.strip() for line in trace.splitlines() if line.startswith("Authorization:")
        ][:1]
    except BaseException as exc:
        result["error"] = repr(exc)
        result["pbx_log"] = pbx.log_tail(30)
        trace_file = work / "baresip.log"
        if trace_file.exists():
            result["baresip_log"] = trace_file.read_text(errors="replace")[-3000:]
    finally:
        if phone is not None and phone.poll() is None:
            phone.kill()
            phone.wait(5)
        pbx.stop()
        receiver.stop()
        shutil.rmtree(work, ignore_errors=True)
    return result


@pytest.mark.skipif(os.geteuid() != 0, reason="unshare -n needs root")
@pytest.mark.skipif(not Path(BARESIP).exists(), reason="baresip is not installed")
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_baresip_registers_and_unregisters(transport: str) -> None:
    proc = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "tests.e2e.test_registrar_baresip", transport],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, (proc.stdout[-2000:], proc.stderr[-2000:])
    result = json.loads(lines[-1])
    assert "error" not in result, result
    assert result["event"]["status"] == "Registered"
    assert result["event"]["extension"] == NUMBER
    # the PBX records where the REGISTER came from: baresip's UDP socket is bound to its
    # sip_listen address, its TCP connection to 127.0.0.1 leaves from 127.0.0.1
    source = NAMESPACE_IP if transport == "udp" else "127.0.0.1"
    assert result["event"]["registeredIP"] == source
    assert result["status"] == "Registered"
    assert result["status_after_qualify"] == "Registered"
    assert [e["status"] for e in result["events"]] == ["Registered", "Unregistered"]
    authorization = result["authorization"][0]  # no algorithm parameter means MD5
    assert "response=" in authorization and "SHA-256" not in authorization
    assert result["qualified"], "baresip never saw the PBX's OPTIONS keep-alive"


if __name__ == "__main__":
    print(json.dumps(inside(sys.argv[1] if len(sys.argv) > 1 else "udp")), flush=True)
