"""IVR benchmark: concurrent callers in an IVR through `kilopbx serve`, each hearing
the menu prompt (played by a media worker) again and again while the worker listens
to its audio for in-band keys; plus the cost of the in-band detector alone.

sipp calls IVR 6201 as 2001 with an SDP without telephone-event (so every leg gets an
in-band detector) and plays sipp's G.711 A-law pcap (speech-like audio) into it; the
IVR (prompt repeat 5, response timeout 1 s) plays its prompt five times and then hangs
up. Each step offers a call rate so that about N sessions run at once, and measures
over the steady part: sessions completed, failures, and the CPU of the media worker
and of the signalling process (from /proc/<pid>/stat), per session.

    .venv/bin/python bench/bench_ivr.py     # BENCH_IVR_SESSIONS=50,100,200
"""

from __future__ import annotations

import math
import os
import random
import re
import struct
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.e2e.calls.peers import PASSWORD, add_extensions, start
from tests.e2e.ivr.caller import SIPP_PCAPS, press_pcap, scenario
from tests.harness import HOST, PbxProcess, free_port

from kilopbx.media.inband_dtmf import InbandDetector

SESSIONS = [int(n) for n in os.environ.get("BENCH_IVR_SESSIONS", "50,100,200").split(",")]
SESSION_SECONDS = 10.0  # five prompts of ~1 s, each followed by a 1 s wait
IVR = "6201"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def workers(pbx: PbxProcess) -> list[int]:
    assert pbx.proc is not None
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        if parent == pbx.proc.pid and b"kilopbx.media.worker" in command:
            found.append(int(entry.name))
    return found


def _cumulative(output: str, name: str) -> int:
    matches = re.findall(rf"{name}\s*\|\s*\d+\s*\|\s*(\d+)", output)
    return int(matches[-1]) if matches else 0


def detector_cost() -> dict[str, float]:
    """Microseconds per 20 ms block for silence, speech-like audio and a key tone."""
    rng = random.Random(1)
    blocks = {
        "silence": bytes(320),
        "noise": struct.pack("=160h", *(int(rng.gauss(0, 5000)) for _ in range(160))),
        "tone": struct.pack(
            "=160h",
            *(
                int(
                    6000 * math.sin(2 * math.pi * 770 * n / 8000)
                    + 6000 * math.sin(2 * math.pi * 1336 * n / 8000)
                )
                for n in range(160)
            ),
        ),
    }
    result = {}
    for name, block in blocks.items():
        detector = InbandDetector()
        count = 20000
        started = time.process_time()
        for _ in range(count):
            detector.feed(block)
        result[name] = (time.process_time() - started) / count * 1e6
    return result


def step(pbx: PbxProcess, sessions: int, work: Path) -> dict[str, float]:
    work.mkdir(parents=True, exist_ok=True)
    rate = sessions / SESSION_SECONDS
    total = int(sessions * 2)  # two session lengths of arrivals: the second half is steady
    keys = [press_pcap(SIPP_PCAPS / "g711a.pcap", ms=0)]
    text = scenario("2001", keys, events=False, connected=False)
    path = work / "ivr-caller.xml"
    path.write_text(text.replace("RTP/AVP 0", "RTP/AVP 8"))  # the pcap is A-law
    extra = ["-au", "2001", "-ap", PASSWORD, "-s", IVR, "-mp", str(free_port(udp_too=True))]
    extra += ["-auth_uri", f"{IVR}@{HOST}:{pbx.sip_port}"]
    extra += ["-m", str(total), "-r", f"{rate:.2f}", "-l", str(sessions * 2)]
    caller = start(pbx, str(path), work, extra=extra)
    pids = workers(pbx)
    assert pbx.proc is not None
    time.sleep(SESSION_SECONDS * 1.2)  # ramp up to the steady number of sessions
    window = SESSION_SECONDS * 0.6
    before = [cpu_seconds(p) for p in pids] + [cpu_seconds(pbx.proc.pid)]
    time.sleep(window)
    after = [cpu_seconds(p) for p in pids] + [cpu_seconds(pbx.proc.pid)]
    _code, output = caller.outcome(timeout=SESSION_SECONDS * 4 + 60)
    worker_cpu = sum(a - b for a, b in zip(after[:-1], before[:-1], strict=True)) / window
    signalling_cpu = (after[-1] - before[-1]) / window
    return {
        "sessions": sessions,
        "completed": _cumulative(output, "Successful call"),
        "failed": _cumulative(output, "Failed call"),
        "offered": total,
        "worker_cpu": worker_cpu,
        "signalling_cpu": signalling_cpu,
    }


def main() -> int:
    costs = detector_cost()
    print("in-band DTMF detector, one 20 ms block at 8 kHz (microseconds):")
    for name, micros in costs.items():
        print(f"  {name:8s} {micros:6.1f} us  ({micros * 50 / 1e4:.3f} % of a core per leg)")
    with tempfile.TemporaryDirectory(prefix="kilopbx-bench-ivr-") as tmp:
        env = {
            "KILOPBX_REGISTRAR_QUALIFY_INTERVAL": "0",
            "KILOPBX_MEDIA_WORKERS": "1",
            "KILOPBX_SIP_FLOOD_LIMIT": "0",
            "KILOPBX_SIP_MAX_TRANSACTIONS_PER_SOURCE": "0",
        }
        pbx = PbxProcess(Path(tmp) / "pbx", env).start()
        try:
            token = pbx.login()
            pbx.api("extension/delete", {"number": "all"}, token=token)
            add_extensions(pbx, token, ("2001",))
            body = {"number": IVR, "ivrname": "Bench", "promptrepeat": "5",
                    "responsetimeout": "1", "digittimeout": "1", "dialext": "off"}  # fmt: skip
            assert pbx.api("ivr/add", body, token=token)["status"] == "Success"
            print("concurrent IVR sessions (1 media worker; sipp on the same 2 cores):")
            for sessions in SESSIONS:
                r = step(pbx, sessions, Path(tmp) / f"step-{sessions}")
                per = r["worker_cpu"] / sessions * 100
                print(
                    f"  {r['sessions']:4d} sessions: {r['completed']}/{r['offered']} completed, "
                    f"{r['failed']} failed; worker {r['worker_cpu'] * 100:.1f} % of a core "
                    f"({per:.3f} % per session), signalling {r['signalling_cpu'] * 100:.1f} %",
                    flush=True,
                )
        finally:
            pbx.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
