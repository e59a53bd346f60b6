"""IVR benchmark: concurrent callers in an IVR through `kilopbx serve`, each hearing
the menu prompt (played by a media worker) while the worker listens to its audio for
in-band keys, and what each caller receives checked for audio gaps; plus the cost of
the in-band detector alone.

sipp calls IVR 6201 as 2001 (`bench/sipp/ivr_caller.xml`): an SDP without
telephone-event (so every leg gets an in-band detector) naming port 9, so that the
PBX's endpoint latches onto the bench's own RTP socket for that session
(`bench/ivr_callers.py`). That socket sends speech-like audio at 50 packets/s and
receives the IVR's prompt (a 40 s prompt uploaded for the bench); over the measured
window every received stream is checked for gaps (`bench/rtp_gaps.py`: missing
sequence numbers, silences over 60 ms, packets over 60 ms late). Then every session
presses 9 in band; the IVR hangs up on 9, which shows that the detector heard each
key, and sipp ends. Each step sets up N sessions, measures with all N live, and
reports gaps, the CPU of the media worker(s) and of the signalling process (from
/proc/<pid>/stat) per session, the machine's load average, how long the worker was
runnable but waiting for a CPU (/proc/<pid>/schedstat), and how late the machine
woke a bare process at the workers' priority meanwhile (`stall_probe.py`): the last
two help tell gaps a busy machine caused from gaps the PBX caused.

    .venv/bin/python bench/bench_ivr.py
    # BENCH_IVR_SESSIONS=100,200,300  BENCH_IVR_SECONDS=20  BENCH_IVR_WORKERS=1
    # BENCH_IVR_KEEP=1 keeps the PBX's data directory and log, and sipp's files
"""

from __future__ import annotations

import base64
import bisect
import io
import json
import math
import os
import platform
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import wave
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.e2e.calls.peers import PASSWORD, add_extensions, start
from tests.harness import HOST, PbxProcess

from bench.bench_anchored_calls import children, media_ports
from bench.rtp_gaps import GAP
from kilopbx.media.inband_dtmf import InbandDetector

HERE = Path(__file__).resolve().parent
SESSIONS = [int(n) for n in os.environ.get("BENCH_IVR_SESSIONS", "100,200,300").split(",")]
SECONDS = float(os.environ.get("BENCH_IVR_SECONDS", "20"))
WARMUP = float(os.environ.get("BENCH_IVR_WARMUP", "3"))
WORKERS = int(os.environ.get("BENCH_IVR_WORKERS", "1"))
SETUP_RATE = 50  # sessions/s while they are set up
PROMPT_SECONDS = 40  # longer than set-up, warm-up and window: one unbroken prompt
IVR, KEY = "6201", "9"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_queue(pid: int) -> tuple[float, int]:
    """(seconds spent runnable but waiting for a CPU, times run) of one process."""
    try:
        _run, waited, slices = Path(f"/proc/{pid}/schedstat").read_text().split()[:3]
    except (OSError, ValueError):
        return 0.0, 0
    return int(waited) / 1e9, int(slices)


class SchedSampler(threading.Thread):
    """Reads the workers' /proc/PID/schedstat every few milliseconds, so that each
    stall moment can be told apart afterwards: the worker waiting for a CPU (the
    machine), running (its own work: a long tick, a garbage collection) or neither
    (asleep while its audio was due: a timer problem in the PBX)."""

    PERIOD = 0.005

    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.samples: list[tuple[float, int, int]] = []  # monotonic, run ns, wait ns
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.PERIOD):
            run = wait = 0
            for pid in self.pids:
                try:
                    fields = Path(f"/proc/{pid}/schedstat").read_text().split()
                except OSError:
                    continue
                run, wait = run + int(fields[0]), wait + int(fields[1])
            self.samples.append((time.monotonic(), run, wait))

    def classify(self, moment_ends: list[float], span: float = 0.3) -> dict[str, int]:
        """For each stall moment, what held the worker(s) in the `span` before it:
        at least a gap's worth more waiting for a CPU, or more running, than their
        average over the whole run (whichever is more), or neither (it slept)."""
        kinds = {"waiting": 0, "running": 0, "asleep": 0}
        if len(self.samples) < 2:
            return kinds
        (start, run_a, wait_a), (stop, run_b, wait_b) = self.samples[0], self.samples[-1]
        whole = max(1e-9, stop - start)
        run_rate, wait_rate = (run_b - run_a) / 1e9 / whole, (wait_b - wait_a) / 1e9 / whole
        times = [t for t, _, _ in self.samples]
        for end in moment_ends:
            last = bisect.bisect_right(times, end) - 1
            first = bisect.bisect_left(times, end - span)
            if last <= first:
                continue
            (t0, run0, wait0), (t1, run1, wait1) = self.samples[first], self.samples[last]
            ran = (run1 - run0) / 1e9 - run_rate * (t1 - t0)
            waited = (wait1 - wait0) / 1e9 - wait_rate * (t1 - t0)
            if max(ran, waited) < GAP:
                kinds["asleep"] += 1  # nothing held it longer than usual
            else:
                kinds["waiting" if waited >= ran else "running"] += 1
        return kinds


def prompt_wav(seconds: int) -> bytes:
    """A soft two-tone melody whose level moves like speech: the bench's menu prompt."""
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        frames = bytearray()
        for n in range(8000 * seconds):
            level = 3000 * (1.1 + math.sin(2 * math.pi * n / 2400))
            hz = 330.0 if n // 4000 % 2 else 440.0
            frames += struct.pack("=h", int(level * math.sin(2 * math.pi * hz * n / 8000)))
        audio.writeframes(bytes(frames))
    return out.getvalue()


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


def step(pbx: PbxProcess, sessions: int, work: Path) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    extra = ["-au", "2001", "-ap", PASSWORD, "-s", IVR, "-auth_uri", f"{IVR}@{HOST}:{pbx.sip_port}"]
    extra += ["-m", str(sessions), "-r", str(SETUP_RATE), "-l", str(sessions)]
    setup = sessions / SETUP_RATE + 20
    extra += ["-timeout", f"{int(setup + WARMUP + SECONDS + 30)}s"]
    caller = start(
        pbx, str(HERE / "sipp" / "ivr_caller.xml"), work, variables={"caller": "2001"}, extra=extra
    )
    try:
        ports = media_ports(work / "pbx-media-caller.txt", sessions, time.monotonic() + setup)
        assert pbx.proc is not None
        pids = [pbx.proc.pid, *children(pbx.proc.pid, b"kilopbx.media.worker")]
        callers = subprocess.Popen(
            [sys.executable, str(HERE / "ivr_callers.py"), json.dumps(ports), str(WARMUP),
             str(SECONDS), KEY],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        sampler = SchedSampler(pids[1:])
        sampler.start()
        time.sleep(WARMUP)
        probe = subprocess.Popen(
            [sys.executable, str(HERE / "stall_probe.py"), str(SECONDS)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        before = [cpu_seconds(pid) for pid in pids]
        queued = [run_queue(pid) for pid in pids[1:]]
        load_before = os.getloadavg()[0]
        time.sleep(SECONDS)
        after = [cpu_seconds(pid) for pid in pids]
        queued_after = [run_queue(pid) for pid in pids[1:]]
        load = (load_before + os.getloadavg()[0]) / 2
        out, _ = callers.communicate(timeout=60)
        sampler.stopping.set()
        result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        result["moment_kinds"] = sampler.classify(result.pop("moment_ends"))
        stalls, _ = probe.communicate(timeout=30)
        result["machine"] = json.loads(stalls.strip().splitlines()[-1])
        code, output = caller.outcome(timeout=60)
    finally:
        caller.kill()
    signalling, *worker = ((b - a) / SECONDS for a, b in zip(before, after, strict=True))
    result.update(
        answered=len(ports),
        hung_up_on_key=_cumulative(output, "Successful call"),
        sipp_failed=_cumulative(output, "Failed call"),
        sipp_code=code,
        worker_cpu=sum(worker),
        worker_waited=sum(b[0] - a[0] for a, b in zip(queued, queued_after, strict=True)),
        worker_runs=sum(b[1] - a[1] for a, b in zip(queued, queued_after, strict=True)),
        signalling_cpu=signalling,
        load=load,
    )
    return result


def _cumulative(output: str, name: str) -> int:
    matches = re.findall(rf"{name}\s*\|\s*\d+\s*\|\s*(\d+)", output)
    return int(matches[-1]) if matches else 0


def report(r: dict[str, Any]) -> str:
    n = max(1, r["sessions"])
    m = r["machine"]
    k = r["moment_kinds"]
    return (
        f"  {r['sessions']:4d} sessions ({r['answered']} answered, {r['silent']} heard nothing): "
        f"gaps in {r['sessions_with_gaps']} sessions ({r['gap_events']} gap events: "
        f"{r['missing']} packets missing, {r['silences']} silences > 60 ms, {r['late']} "
        f"packets > 60 ms late; longest silence {r['longest_silence_ms']:.0f} ms, worst "
        f"lateness {r['worst_lateness_ms']:.0f} ms); the gap events fall in "
        f"{r['gap_moments']} distinct 100 ms moments of the {SECONDS:.0f} s (in the 0.3 s "
        f"before each, the worker waited for a CPU {k['waiting']}, ran {k['running']}, "
        f"neither {k['asleep']}); "
        f"{r['packets']}/{r['expected']:.0f} packets received"
        f"{'' if r['kernel_time'] else ' (arrival times from this process, not the kernel)'}\n"
        f"        key {KEY} heard in band: {r['key_stopped']} prompts stopped (median "
        f"{r['key_reaction_median_ms']:.0f} ms after the key began), {r['hung_up_on_key']} "
        f"calls hung up by the IVR, {r['sipp_failed']} sipp failures (sipp's exit code "
        f"{r['sipp_code']})\n"
        f"        CPU: worker {r['worker_cpu'] * 100:.1f} % of a core "
        f"({r['worker_cpu'] * 100 / n:.3f} % per session), signalling "
        f"{r['signalling_cpu'] * 100:.1f} % ({r['signalling_cpu'] * 100 / n:.3f} % per "
        f"session); callers' generator {r['generator_cpu_s'] / SECONDS * 100:.0f} % "
        f"(lag {r['generator_lag_ms']:.0f} ms); load average {r['load']:.2f}\n"
        f"        the worker(s) waited for a CPU {r['worker_waited'] * 1000:.0f} ms of the "
        f"{SECONDS:.0f} s (mean {r['worker_waited'] * 1e6 / max(1, r['worker_runs']):.0f} us "
        f"per wake-up, /proc/PID/schedstat); a bare 20 ms sleeper at their priority woke "
        f"over 60 ms late {m['over_60ms']} times, over 100 ms {m['over_100ms']} times "
        f"(worst {m['max_ms']:.0f} ms)"
    )


def main() -> int:
    costs = detector_cost()
    print("in-band DTMF detector, one 20 ms block at 8 kHz (microseconds):")
    for name, micros in costs.items():
        print(f"  {name:8s} {micros:6.1f} us  ({micros * 50 / 1e4:.3f} % of a core per leg)")
    if not shutil.which("sipp"):
        print("sipp is not installed: sessions skipped")
        return 0
    print(
        f"conditions: {platform.node()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; one kilopbx serve ({WORKERS} media worker(s)), sipp "
        f"and the callers' RTP on this host over loopback; PCMU 20 ms; {SECONDS:.0f} s "
        f"measured after {WARMUP:.0f} s with every session live; load average now "
        f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}"
    )
    keep = bool(os.environ.get("BENCH_IVR_KEEP"))  # the PBX's log and sipp's files
    tmp = tempfile.mkdtemp(prefix="kilopbx-bench-ivr-")
    try:
        env = {
            "KILOPBX_REGISTRAR_QUALIFY_INTERVAL": "0",
            "KILOPBX_MEDIA_WORKERS": str(WORKERS),
            "KILOPBX_SIP_FLOOD_LIMIT": "0",
            "KILOPBX_SIP_MAX_TRANSACTIONS_PER_SOURCE": "0",
            "KILOPBX_LOG_LEVEL": "WARNING",
            "KILOPBX_RTP_PORTS": "22000-27999",  # below the callers' ephemeral ports
            "KILOPBX_CALL_RTP_TIMEOUT": "0",
        }
        pbx = PbxProcess(Path(tmp) / "pbx", env).start()
        try:
            token = pbx.login()
            pbx.api("extension/delete", {"number": "all"}, token=token)
            add_extensions(pbx, token, ("2001",))
            data = base64.b64encode(prompt_wav(PROMPT_SECONDS)).decode()
            upload = pbx.api("prompt/upload", {"name": "bench-menu", "data": data}, token=token)
            assert upload["status"] == "Success", upload
            body = {"number": IVR, "ivrname": "Bench", "prompt": "bench-menu",
                    "promptrepeat": "2", "responsetimeout": "1", "digittimeout": "1",
                    "dialext": "off", "keys": [{"key": KEY, "desttype": "hangup", "dest": ""}],
                    "timeoutdesttype": "hangup", "invaliddesttype": "hangup"}  # fmt: skip
            answer = pbx.api("ivr/add", body, token=token)
            assert answer["status"] == "Success", answer
            print("concurrent IVR sessions (prompt playback plus in-band DTMF detection):")
            for sessions in SESSIONS:
                print(report(step(pbx, sessions, Path(tmp) / f"step-{sessions}")), flush=True)
        finally:
            pbx.stop()
    finally:
        if keep:
            print(f"  kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
