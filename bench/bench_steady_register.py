"""Steady-state registrations: sipp's digest REGISTER (REGISTER, 401, REGISTER, 200)
from 1000 users, against `kilopbx serve` and against Kamailio in the same run.

Each rate runs BENCH_STEADY_WARMUP s (default 40: longer than Timer J's 32 s, so the
transactions a registration leaves behind have reached their steady number) and then
BENCH_STEADY_SECONDS s of measurement (default 60) in one sipp run. CPU of the servers
is read from /proc over the measured window; KiloPBX's media workers are read apart.
Rates step up (BENCH_STEADY_REGISTER_RATES) until a server fails one: the highest rate
passed has no failed registration and retransmissions under 0.1 %. Kamailio and KiloPBX
alternate at each rate, so both see the same machine.

    .venv/bin/python bench/bench_steady_register.py
    BENCH_STEADY_WARMUP=5 BENCH_STEADY_SECONDS=10 .venv/bin/python bench/bench_steady_register.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.harness import free_port

from bench.steady_report import conditions, summary
from bench.steady_servers import Kamailio, KiloPbx, write_injection
from bench.steady_sipp import HOST, Step, run_step, sipp
from bench.steady_steps import climb

HERE = Path(__file__).resolve().parent
WARMUP = float(os.environ.get("BENCH_STEADY_WARMUP", "40"))
WINDOW = float(os.environ.get("BENCH_STEADY_SECONDS", "60"))
DEFAULT_RATES = "1000,2000,3000,3500,4000,5000,6000"
RATES = [int(r) for r in os.environ.get("BENCH_STEADY_REGISTER_RATES", DEFAULT_RATES).split(",")]
SERVERS = os.environ.get("BENCH_STEADY_SERVERS", "kamailio,kilopbx").split(",")


def client(work: Path, port: int, injection: Path) -> list[str]:
    local = free_port(udp_too=True)
    scenario = HERE / "sipp" / "register_digest.xml"
    return sipp(work, "uac", f"{HOST}:{port}", ["-sf", str(scenario), "-inf", str(injection),
                                                "-p", str(local)])  # fmt: skip


def kamailio_step(rate: int, work: Path, injection: Path) -> Step:
    server = Kamailio.registrar(work / "kamailio")
    try:
        return run_step(
            server="kamailio", rate=rate, warmup=WARMUP, window=WINDOW,
            client=client(work, server.port, injection), workdir=work,
            groups={"server": server.pids}, ports=(server.port,),
        )  # fmt: skip
    finally:
        server.stop()


def kilopbx_step(pbx: KiloPbx, rate: int, work: Path, injection: Path) -> Step:
    return run_step(
        server="kilopbx", rate=rate, warmup=WARMUP, window=WINDOW,
        client=client(work, pbx.port, injection), workdir=work,
        groups={"server": pbx.signalling, "media": pbx.workers}, ports=(pbx.port,),
    )  # fmt: skip


def main() -> int:
    print(conditions("REGISTER with MD5 digest (qop=auth), 1000 users", WARMUP, WINDOW))
    with tempfile.TemporaryDirectory(prefix="kilopbx-steady-") as directory:
        base = Path(directory)
        injection = write_injection(base / "users.csv")
        pbx = KiloPbx(base) if "kilopbx" in SERVERS else None
        steps: list[Step] = []
        try:
            if pbx is not None:
                pbx.add_users()
            running = {s for s in SERVERS if s != "kamailio" or Kamailio.available()}
            if "kamailio" in SERVERS and "kamailio" not in running:
                print("kamailio is not installed (make bench installs it): KiloPBX only")

            def step(name: str, rate: int, attempt: int) -> Step:
                work = base / f"{name}-{rate}-{attempt}"
                work.mkdir()
                if name == "kamailio":
                    return kamailio_step(rate, work, injection)
                assert pbx is not None
                return kilopbx_step(pbx, rate, work, injection)

            steps = climb(RATES, running, step)
        finally:
            if pbx is not None:
                pbx.stop()
        print(summary(steps, "registration"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
