"""Anchored calls through one `kilopbx serve` while it takes a REGISTER load.

Unlike bench_media.py (a MediaPool driven directly), every call here is a real SIP
call through the PBX: sipp calls as 2901 (digest, 407) and sipp answers as 2902, the
B2BUA routes, rings and anchors each call in the PBX's own media workers
(BENCH_ANCHORED_WORKERS, default 2). Each phone's SDP names port 9, so the PBX's
endpoints latch onto the load generator (bench/media_load.py), which sends RTP both
ways at 50 packets/s per direction to the media ports the PBX put in its SDP (read
by the sipp scenarios). Meanwhile sipp sends BENCH_ANCHORED_REGISTER_RATE (500)
authenticated REGISTER/s from 1000 other extensions to the same PBX.

Prints loss, added jitter, the CPU of the PBX's signalling process and of its
workers (per call), the generator's CPU, and the whole machine's busy share over the
measured window (the rest of it is sipp and anything else running).

    .venv/bin/python bench/bench_anchored_calls.py   # BENCH_ANCHORED_CALLS=500
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import uvloop
from tests.e2e.calls.peers import HERE as SCENARIOS_DIR
from tests.e2e.calls.peers import add_extensions, call, register, start
from tests.e2e.sipp.runner import User, run_sipp, write_users
from tests.harness import PbxProcess, free_port

from bench.bench_media import cpu_seconds, describe, run_generator
from bench.bench_register import create_extensions

CALLS = int(os.environ.get("BENCH_ANCHORED_CALLS", "500"))
SECONDS = float(os.environ.get("BENCH_ANCHORED_SECONDS", "30"))
WARMUP = float(os.environ.get("BENCH_ANCHORED_WARMUP", "5"))
WORKERS = int(os.environ.get("BENCH_ANCHORED_WORKERS", "2"))
REGISTER_RATE = int(os.environ.get("BENCH_ANCHORED_REGISTER_RATE", "500"))
SETUP_RATE = 50  # calls/s while the calls are set up
SETUP_LIMIT = 120.0  # seconds for every call to be answered
CALLER, CALLEE = "2901", "2902"


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def children(pid: int, marker: bytes) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid and marker in command:
            found.append(int(entry.name))
    return found


def appending_scenario(name: str, work: Path) -> str:
    """A copy of a call-test scenario that appends each PBX media port to its file."""
    text = (SCENARIOS_DIR / name).read_text().replace("' > pbx-media-", "' >> pbx-media-")
    path = work / f"bench-{name}"
    path.write_text(text)
    return str(path)


def media_ports(path: Path, count: int, deadline: float) -> list[int]:
    while True:
        lines = path.read_text().split("\n") if path.exists() else []
        ports = [int(line.split()[-1]) for line in lines if line.strip()]
        if len(ports) >= count or time.monotonic() > deadline:
            return ports
        time.sleep(0.2)


def start_register_load(pbx: PbxProcess, users: list[User], work: Path, seconds: float):  # type: ignore[no-untyped-def]
    if REGISTER_RATE <= 0:
        return None, {}
    csv = write_users(work / "users.csv", users)
    outcome: dict[str, Any] = {}

    def run() -> None:
        outcome["result"] = run_sipp(
            "register_auth.xml", csv, pbx.sip_port, workdir=work / "sipp-register",
            calls=int(REGISTER_RATE * seconds), rate=REGISTER_RATE,
            limit=max(200, REGISTER_RATE), local_port=free_port(udp_too=True),
            timeout=seconds * 3 + 30,
        )  # fmt: skip

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def main() -> int:
    if not shutil.which("sipp"):
        print("sipp is not installed: skipped")
        return 0
    print(
        f"conditions: {platform.node()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; one kilopbx serve ({WORKERS} media workers), sipp "
        f"phones, the RTP generator and the REGISTER sipp all on this host over loopback; "
        f"PCMU 20 ms, 50 packets/s per direction; {SECONDS:.0f} s measured after "
        f"{WARMUP:.0f} s warm-up; other engineers' test suites may share the machine"
    )
    work = Path(tempfile.mkdtemp(prefix="bench-anchored-"))
    env = {
        "KILOPBX_SIP_FLOOD_LIMIT": "0",
        "KILOPBX_SIP_MAX_TRANSACTIONS_PER_SOURCE": "0",
        "KILOPBX_REGISTRAR_QUALIFY_INTERVAL": "0",
        "KILOPBX_LOG_LEVEL": "WARNING",
        "KILOPBX_MEDIA_WORKERS": str(WORKERS),
        "KILOPBX_RTP_PORTS": "22000-27999",  # below the generator's ephemeral ports
        "KILOPBX_CALL_RTP_TIMEOUT": "0",
    }
    pbx = PbxProcess(work / "pbx", env).start()
    caller = callee = None
    try:
        users = create_extensions(pbx, 1000)  # 3000..3999: the REGISTER load
        add_extensions(pbx, pbx.login(), (CALLER, CALLEE))
        callee_port = free_port(udp_too=True)
        register(pbx, CALLEE, callee_port, work)
        hold_ms = int((CALLS / SETUP_RATE + WARMUP + SECONDS + 10) * 1000)
        callee = start(
            pbx, appending_scenario("uas_answer.xml", work), work, port=callee_port,
            variables={"pts": "0", "rtp": "9"}, extra=["-m", str(CALLS)],
        )  # fmt: skip
        caller = call(
            pbx, CALLER, CALLEE, work, scenario=appending_scenario("uac_call.xml", work),
            talk_ms=hold_ms, extra=["-m", str(CALLS), "-r", str(SETUP_RATE), "-l", str(CALLS)],
        )  # fmt: skip
        deadline = time.monotonic() + SETUP_LIMIT
        a_ports = media_ports(work / "pbx-media-caller.txt", CALLS, deadline)
        b_ports = media_ports(work / "pbx-media-callee.txt", CALLS, deadline)
        live = len(pbx.api("call/query", {"type": "internal"}, token=pbx.login())["calls"])
        print(f"set up: {len(a_ports)} answered calls ({live} live in call/query)")
        pairs = [[a, b] for a, b in zip(a_ports, b_ports, strict=False)]
        thread, outcome = start_register_load(pbx, users, work, WARMUP + SECONDS + 2)
        assert pbx.proc is not None
        workers = children(pbx.proc.pid, b"kilopbx.media.worker")
        pids = [pbx.proc.pid, *workers]
        busy_before = machine_busy()

        async def measure() -> dict[str, Any]:
            return await run_generator(pairs, WARMUP, SECONDS, pids)

        result = uvloop.run(measure())
        busy_after = machine_busy()
        calls = len(pairs)
        signalling, *worker_cpu = result["relay_cpu"]
        result["relay_cpu"] = worker_cpu  # the relay: what describe() counts per packet
        describe(f"KiloPBX serve, {len(workers)} workers, anchored SIP calls", calls, result)
        media = sum(worker_cpu)
        machine = (busy_after[0] - busy_before[0]) / max(1, busy_after[1] - busy_before[1])
        cores = os.cpu_count() or 1
        print(
            f"  CPU: workers {media * 100:.1f} % of a core ({media * 100 / calls:.3f} % per "
            f"call), signalling process {signalling * 100:.1f} %; generator "
            f"{result['generator_cpu'] * 100:.0f} % of a core; whole machine busy "
            f"{machine * 100:.0f} % of {cores} cores (the rest of it: sipp, other users)"
        )
        if thread is not None:
            thread.join(timeout=SECONDS + 60)
            reg = outcome.get("result")
            if reg is not None:
                print(
                    f"  meanwhile, on the same PBX: {reg.successful} REGISTERs ok, "
                    f"{reg.failed} failed, {reg.rate:,.0f} REGISTER/s"
                )
        print(f"  PBX CPU seconds in all: {cpu_seconds(pbx.proc.pid):.1f}")
    finally:
        for phone in (caller, callee):
            if phone is not None:
                phone.kill()
        pbx.stop()
        if os.environ.get("BENCH_ANCHORED_KEEP"):
            print(f"  kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
