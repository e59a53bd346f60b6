"""Anchored calls through one `kilopbx serve` while it takes a REGISTER load and
answers the API.

Unlike bench_media.py (a MediaPool driven directly), every call here is a real SIP
call through the PBX: sipp calls as 2901 (digest, 407) and sipp answers as 2902, the
B2BUA routes, rings and anchors each call in the PBX's own media workers
(BENCH_ANCHORED_WORKERS, default 2). Each phone's SDP names port 9, so the PBX's
endpoints latch onto the load generator (bench/media_load.py), which sends RTP both
ways at 50 packets/s per direction to the media ports the PBX put in its SDP (read
by the sipp scenarios). Meanwhile, on the same PBX:

- sipp sends BENCH_ANCHORED_REGISTER_RATE (500) digest REGISTER/s from 1000 other
  extensions, driven as bench_steady_register.py drives it (one sipp with large socket
  buffers and a concurrency limit of three seconds of registrations; its step runner
  reads failures, retransmissions, drops at the PBX's socket and the signalling CPU);
- an API client asks `extension/list` (all 1002 extensions) BENCH_ANCHORED_API_RATE
  (10) times a second, one request at a time, each with BENCH_ANCHORED_API_TIMEOUT (2 s).

All three loads start together once the calls are up; figures are read over the same
BENCH_ANCHORED_SECONDS after BENCH_ANCHORED_WARMUP. Prints loss, added jitter, the CPU
of the PBX's signalling process and of its workers (per call), the generator's CPU, the
REGISTER and API figures, the whole machine's busy share, and a PASS/FAIL line against
the REGISTER-peak targets (loss under 0.1 %, added jitter under 5 ms in the p99 stream,
`extension/list` p99 under 50 ms with no error, every call up, the generator and the
REGISTER load delivered at their rates). bench/run_all.py runs it twice: as is, and as
the "peak" (200 calls, 3000 REGISTER/s, 40 s warm-up, 60 s measured).

    .venv/bin/python bench/bench_anchored_calls.py   # BENCH_ANCHORED_CALLS=500
    .venv/bin/python bench/run_all.py peak           # the REGISTER peak only
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
from tests.e2e.sipp.runner import User, write_users
from tests.harness import PbxProcess, child_processes, free_port

from bench.api_poller import ApiPoller, PollResult
from bench.bench_media import RATE, cpu_seconds, describe, run_generator
from bench.bench_register import create_extensions
from bench.bench_steady_register import client as register_client
from bench.steady_sipp import Step, run_step

CALLS = int(os.environ.get("BENCH_ANCHORED_CALLS", "500"))
SECONDS = float(os.environ.get("BENCH_ANCHORED_SECONDS", "30"))
WARMUP = float(os.environ.get("BENCH_ANCHORED_WARMUP", "5"))
WORKERS = int(os.environ.get("BENCH_ANCHORED_WORKERS", "2"))
REGISTER_RATE = int(os.environ.get("BENCH_ANCHORED_REGISTER_RATE", "500"))
API_RATE = float(os.environ.get("BENCH_ANCHORED_API_RATE", "10"))
API_TIMEOUT = float(os.environ.get("BENCH_ANCHORED_API_TIMEOUT", "2"))
SETUP_RATE = 50  # calls/s while the calls are set up
SETUP_LIMIT = 120.0  # seconds for every call to be answered
CALLER, CALLEE = "2901", "2902"
# the targets for live calls and the API under the REGISTER peak (issue 12)
MAX_LOSS_PERCENT, MAX_JITTER_MS, MAX_API_P99_MS = 0.1, 5.0, 50.0


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


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


def start_register_load(pbx: PbxProcess, users: list[User], work: Path):  # type: ignore[no-untyped-def]
    """bench_steady_register.py's REGISTER client and step runner, in a thread: sipp
    registers for WARMUP + SECONDS + 1 s (the second covers the generator, which starts
    just after), CPU of the signalling process read after the warm-up."""
    if REGISTER_RATE <= 0:
        return None, {}
    step_dir = work / "sipp-register"
    step_dir.mkdir()
    injection = write_users(work / "users.csv", users)
    command = register_client(step_dir, pbx.sip_port, injection)
    assert pbx.proc is not None
    pid = pbx.proc.pid
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["step"] = run_step(
                server="kilopbx", rate=REGISTER_RATE, warmup=WARMUP, window=SECONDS + 1,
                client=command, workdir=step_dir, groups={"server": lambda: [pid]},
                ports=(pbx.sip_port,),
            )  # fmt: skip
        except Exception as exc:  # reported, the calls' figures still count
            outcome["error"] = repr(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def describe_registers(step: Step) -> None:
    verdict = "held" if step.passed else "NOT held: " + "; ".join(step.why)
    print(
        f"  meanwhile, on the same PBX: {step.rate} REGISTER/s offered, {step.achieved:,.0f}/s "
        f"achieved, {step.successful} ok, {step.failed} failed, {step.retransmissions} "
        f"retransmissions, {step.drops} datagrams dropped at the PBX's SIP socket; "
        f"signalling process {step.share('server'):.1f} % of a core over "
        f"{step.window:.0f} s after the warm-up; REGISTER load {verdict}"
    )


def verdict(wanted: int, result: dict[str, Any], step: Step | None, api: PollResult | None) -> str:
    """One PASS/FAIL line against the targets, naming what missed."""
    calls, sent, received = result["calls"], result["sent"], result["received"]
    loss = 100.0 * (sent - received) / sent if sent else 100.0
    jitter = result["jitter_p99_ms"]
    offered, target = sent / result["seconds"] if result["seconds"] else 0.0, 2 * RATE * wanted
    why = []
    if calls < wanted:
        why.append(f"only {calls} of {wanted} calls set up")
    if offered < 0.99 * target:
        why.append(f"the generator offered {offered:,.0f} of {target:,} packets/s")
    if loss >= MAX_LOSS_PERCENT:
        why.append(f"loss {loss:.3f} %")
    if jitter >= MAX_JITTER_MS:
        why.append(f"added jitter p99 stream {jitter:.2f} ms")
    if step is not None and not step.passed:
        why.append("REGISTER load not held (" + "; ".join(step.why) + ")")
    if REGISTER_RATE > 0 and step is None:
        why.append("no REGISTER figures")
    p99 = api.latency_ms(0.99) if api is not None else float("nan")
    if api is not None:
        if not api.samples or p99 >= MAX_API_P99_MS:
            why.append(f"extension/list p99 {p99:.1f} ms")
        if api.errors:
            why.append(f"{sum(api.errors.values())} extension/list errors")
    load = (
        f"{wanted} calls, {REGISTER_RATE} REGISTER/s, extension/list at {API_RATE:g}/s"
        if api is not None
        else f"{wanted} calls, {REGISTER_RATE} REGISTER/s, no API client"
    )
    measured = (
        f"loss {loss:.3f} % (< {MAX_LOSS_PERCENT} %), added jitter p99 stream {jitter:.2f} ms "
        f"(< {MAX_JITTER_MS:g} ms)"
    )
    if api is not None:
        measured += f", extension/list p99 {p99:.1f} ms (< {MAX_API_P99_MS:g} ms)"
    if why:
        return f"REGISTER-peak targets at {load}: FAIL: {'; '.join(why)} [{measured}]"
    return f"REGISTER-peak targets at {load}: PASS [{measured}]"


def main() -> int:
    if not shutil.which("sipp"):
        print("sipp is not installed: skipped")
        return 0
    print(
        f"conditions: {platform.node()}, {os.cpu_count()} CPUs, load average {load_average()} "
        f"at start, Python {platform.python_version()}; one kilopbx serve ({WORKERS} media "
        f"workers), sipp phones, the RTP generator, the REGISTER sipp and the API client all "
        f"on this host over loopback; PCMU 20 ms, {RATE} packets/s per direction; "
        f"{SECONDS:.0f} s measured after {WARMUP:.0f} s warm-up; other engineers' test "
        f"suites may share the machine"
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
    caller = callee = poller = None
    try:
        users = create_extensions(pbx, 1000)  # 3000..3999: the REGISTER load
        token = pbx.login()
        add_extensions(pbx, token, (CALLER, CALLEE))
        callee_port = free_port(udp_too=True)
        register(pbx, CALLEE, callee_port, work)
        # held past the slowest setup allowed; the phones are stopped at the end anyway
        hold_ms = int((SETUP_LIMIT + WARMUP + SECONDS + 30) * 1000)
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
        live = len(pbx.api("call/query", {"type": "internal"}, token=token)["calls"])
        extensions = len(pbx.api("extension/list", {}, token=token)["extlist"])
        print(f"set up: {len(a_ports)} answered calls ({live} live in call/query)")
        pairs = [[a, b] for a, b in zip(a_ports, b_ports, strict=False)]
        thread, outcome = start_register_load(pbx, users, work)

        def whole_list(answer: dict[str, Any]) -> str:
            return "" if len(answer.get("extlist", ())) == extensions else "short list"

        if API_RATE > 0:
            poller = ApiPoller(pbx, token, "extension/list", API_RATE, API_TIMEOUT, whole_list)
            poller.start()
        assert pbx.proc is not None
        workers = child_processes(pbx.proc.pid, b"kilopbx.media.worker")
        pids = [pbx.proc.pid, *workers]
        busy_before = machine_busy()

        async def measure() -> dict[str, Any]:
            return await run_generator(pairs, WARMUP, SECONDS, pids)

        result = uvloop.run(measure())
        busy_after = machine_busy()
        api = None
        if poller is not None:
            poller.stop()
            api = poller.result(*result["window"])
        calls = result["calls"] = len(pairs)
        signalling, *worker_cpu = result["relay_cpu"]
        result["relay_cpu"] = worker_cpu  # the relay: what describe() counts per packet
        describe(f"KiloPBX serve, {len(workers)} workers, anchored SIP calls", calls, result)
        media = sum(worker_cpu)
        machine = (busy_after[0] - busy_before[0]) / max(1, busy_after[1] - busy_before[1])
        cores = os.cpu_count() or 1
        print(
            f"  CPU: workers {media * 100:.1f} % of a core ({media * 100 / max(1, calls):.3f} % "
            f"per call), signalling process {signalling * 100:.1f} %; generator "
            f"{result['generator_cpu'] * 100:.0f} % of a core; whole machine busy "
            f"{machine * 100:.0f} % of {cores} cores (the rest of it: sipp, other users)"
        )
        step = None
        if thread is not None:
            thread.join(timeout=WARMUP + SECONDS + 180)
            step = outcome.get("step")
            if step is not None:
                describe_registers(step)
            else:
                print(f"  REGISTER load: no figures ({outcome.get('error', 'still running')})")
        if api is not None:
            print(f"  meanwhile, {extensions} extensions listed: {api.describe()}")
        print(
            f"  PBX CPU seconds in all: {cpu_seconds(pbx.proc.pid):.1f}; load average "
            f"{load_average()} at the end"
        )
        print(verdict(CALLS, result, step, api), flush=True)
    finally:
        if poller is not None:
            poller.stop()
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
