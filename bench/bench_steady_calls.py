"""Steady-state call setup: 0-second calls from one sipp phone to another, through
`kilopbx serve` (the B2BUA: digest challenge, routing, media endpoints and a bridge in a
worker, two legs) and through Kamailio as a transaction-stateful proxy (no
authentication, no media) in the same run.

KiloPBX: 2001 calls 2002 (INVITE, 407, ACK, INVITE with credentials, 100, 180, 200,
ACK, BYE, 200 on the caller's side; INVITE, 180, 200, ACK, BYE, 200 on the callee's).
Kamailio: sipp's built-in uac and uas (INVITE, 100, 180, 200, ACK, BYE, 200). The
timing is that of bench_steady_register.py: BENCH_STEADY_WARMUP s (default 40) then
BENCH_STEADY_SECONDS s measured (default 60) per rate, rates stepping up
(BENCH_STEADY_CALL_RATES) until a server fails one. KiloPBX's media workers are read
apart from its signalling process.

    .venv/bin/python bench/bench_steady_calls.py
    BENCH_STEADY_WARMUP=5 BENCH_STEADY_SECONDS=10 .venv/bin/python bench/bench_steady_calls.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.e2e.calls.peers import PASSWORD, add_extensions, register
from tests.harness import free_port

from bench.steady_report import conditions, summary
from bench.steady_servers import Kamailio, KiloPbx
from bench.steady_sipp import HOST, Step, run_step, sipp
from bench.steady_steps import climb

HERE = Path(__file__).resolve().parent
WARMUP = float(os.environ.get("BENCH_STEADY_WARMUP", "40"))
WINDOW = float(os.environ.get("BENCH_STEADY_SECONDS", "60"))
DEFAULT_RATES = "100,200,300,400,600,800,1200,1600"
RATES = [int(r) for r in os.environ.get("BENCH_STEADY_CALL_RATES", DEFAULT_RATES).split(",")]
SETTLE = 40.0  # s after a step for its calls to end (above Timer H, 32 s)
SERVERS = os.environ.get("BENCH_STEADY_SERVERS", "kamailio,kilopbx").split(",")


def _uas(
    work: Path, target: str, port: int, total: int, args: list[str]
) -> subprocess.Popen[bytes]:
    command = sipp(work, "uas", target, [*args, "-p", str(port), "-m", str(total)])
    uas = subprocess.Popen(command, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    if uas.poll() is not None:
        raise RuntimeError(f"sipp uas exited at start (see {work})")
    return uas


def kamailio_step(rate: int, work: Path) -> Step:
    total = int(rate * (WARMUP + WINDOW))
    uas_port = free_port(udp_too=True)
    uas = _uas(work, f"{HOST}:{free_port()}", uas_port, total, ["-sn", "uas"])
    server: Kamailio | None = None
    try:
        server = Kamailio.proxy(work / "kamailio", uas_port)
        client = sipp(work, "uac", f"{HOST}:{server.port}", [
            "-sn", "uac", "-s", "service", "-d", "0", "-p", str(free_port(udp_too=True)),
        ])  # fmt: skip
        return run_step(
            server="kamailio", rate=rate, warmup=WARMUP, window=WINDOW, client=client,
            workdir=work, groups={"server": server.pids}, ports=(server.port,), uas=uas,
        )  # fmt: skip
    finally:
        if server is not None:
            server.stop()
        if uas.poll() is None:
            uas.kill()
            uas.wait()


def kilopbx_step(pbx: KiloPbx, rate: int, work: Path) -> Step:
    total = int(rate * (WARMUP + WINDOW))
    callee_port = free_port(udp_too=True)
    # registered for the whole step: a binding that lapsed mid-run would fail the calls
    # after it (480) and read as an overloaded PBX
    register(pbx.pbx, "2002", callee_port, work, expires=int(WARMUP + WINDOW) + 120)
    target = f"{HOST}:{pbx.port}"
    uas = _uas(work, target, callee_port, total, ["-sf", str(HERE / "sipp" / "call_uas.xml"),
               "-set", "pts", "0", "-set", "rtp", "9"])  # fmt: skip
    try:
        client = sipp(work, "uac", target, [
            "-sf", str(HERE / "sipp" / "call_uac.xml"), "-p", str(free_port(udp_too=True)),
            "-s", "2002", "-d", "0", "-au", "2001", "-ap", PASSWORD,
            "-auth_uri", f"2002@{target}", "-set", "caller", "2001", "-set", "pts", "0 8",
            "-set", "rtp", "9",
        ])  # fmt: skip
        step = run_step(
            server="kilopbx", rate=rate, warmup=WARMUP, window=WINDOW, client=client,
            workdir=work, groups={"server": pbx.signalling, "media": pbx.workers},
            ports=(pbx.port,), uas=uas,
        )  # fmt: skip
        if stuck := _calls_left(pbx):
            step.why.append(f"{stuck} calls still live {SETTLE:.0f} s after the load")
        return step
    finally:
        if uas.poll() is None:
            uas.kill()
            uas.wait()


def _calls_left(pbx: KiloPbx) -> int:
    """Live calls once the load has stopped: every call ended with its BYE or its final
    answer, so any left after SETTLE seconds is a stuck one."""
    deadline = time.monotonic() + SETTLE
    while True:
        answer = pbx.pbx.api("call/query", {"type": "internal"}, token=pbx.token)
        left = len(answer.get("calls", []))
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


def main() -> int:
    print(conditions("0-second calls (INVITE to BYE), no RTP", WARMUP, WINDOW))
    base = Path(tempfile.mkdtemp(prefix="kilopbx-steady-calls-"))
    try:
        print(summary(_climb(base), "call"))
    finally:
        # BENCH_KEEP=1: the working directory (PBX log, sipp statistics and error
        # logs) is kept and named
        if os.environ.get("BENCH_KEEP"):
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    return 0


def _climb(base: Path) -> list[Step]:
    pbx = KiloPbx(base) if "kilopbx" in SERVERS else None
    try:
        if pbx is not None:
            add_extensions(pbx.pbx, pbx.token, ("2001", "2002"))
        running = {s for s in SERVERS if s != "kamailio" or Kamailio.available()}
        if "kamailio" in SERVERS and "kamailio" not in running:
            print("kamailio is not installed (make bench installs it): KiloPBX only")

        def step(name: str, rate: int, attempt: int) -> Step:
            work = base / f"{name}-{rate}-{attempt}"
            work.mkdir()
            if name == "kamailio":
                return kamailio_step(rate, work)
            assert pbx is not None
            return kilopbx_step(pbx, rate, work)

        return climb(RATES, running, step)
    finally:
        if pbx is not None:
            pbx.stop()


if __name__ == "__main__":
    sys.exit(main())
