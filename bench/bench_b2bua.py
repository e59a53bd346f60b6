"""B2BUA benchmark: calls between two registered extensions through `kilopbx serve`,
each authenticated (407), routed, rung, answered, anchored in a media worker (two
endpoints, a bridge) and hung up by the caller.

sipp plays both phones on loopback: one registered as 2002 answers (180, 200 with
SDP), the other calls as 2001 with digest (uac_call.xml of the call tests), holding
each call for BENCH_B2BUA_HOLD_MS. Each step offers a rate for BENCH_B2BUA_SECONDS
and prints the calls completed per second, failures, and the calls the PBX still
held after the run. No RTP flows: this measures signalling and media control.

    .venv/bin/python bench/bench_b2bua.py     # BENCH_B2BUA_RATES=10,25,50,100
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.e2e.calls.peers import add_extensions, answer, call, register, unregister
from tests.harness import PbxProcess, free_port

SECONDS = float(os.environ.get("BENCH_B2BUA_SECONDS", "8"))
HOLD_MS = int(os.environ.get("BENCH_B2BUA_HOLD_MS", "1000"))
RATES = [int(r) for r in os.environ.get("BENCH_B2BUA_RATES", "10,25,50,100").split(",")]


def _cumulative(output: str, name: str) -> int:
    matches = re.findall(rf"{name}\s*\|\s*\d+\s*\|\s*(\d+)", output)
    return int(matches[-1]) if matches else 0


def step(pbx: PbxProcess, token: str, rate: int, work: Path) -> dict[str, float]:
    calls = int(rate * SECONDS)
    work.mkdir(parents=True, exist_ok=True)
    port = free_port(udp_too=True)
    register(pbx, "2002", port, work)
    callee = answer(pbx, port, work, extra=["-m", str(calls)])
    started = time.monotonic()
    caller = call(
        pbx,
        "2001",
        "2002",
        work,
        talk_ms=HOLD_MS,
        extra=["-m", str(calls), "-r", str(rate), "-l", "2000"],
    )
    code, output = caller.outcome(timeout=SECONDS * 4 + 60)
    elapsed = time.monotonic() - started
    callee.kill()
    unregister(pbx, "2002", port, work)
    successful = _cumulative(output, "Successful call")
    left = pbx.api("call/query", {"type": "internal"}, token=token)["calls"]
    return {
        "rate": rate,
        "successful": successful,
        "failed": _cumulative(output, "Failed call"),
        "per_second": successful / elapsed if elapsed else 0.0,
        "elapsed": elapsed,
        "left": len(left),
        "returncode": code,
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        pbx = PbxProcess(
            work / "pbx",
            {"KILOPBX_REGISTRAR_QUALIFY_INTERVAL": "0", "KILOPBX_LOG_LEVEL": "WARNING"},
        ).start()
        try:
            token = pbx.login()
            add_extensions(pbx, token, ("2001", "2002"))
            print(f"sipp -> kilopbx serve -> sipp, {SECONDS:.0f} s per step, {HOLD_MS} ms calls")
            print("offered/s  completed/s  successful  failed  run (s)  calls left")
            for rate in RATES:
                figures = step(pbx, token, rate, work / f"rate-{rate}")
                print(
                    f"{figures['rate']:>9}  {figures['per_second']:>11.1f}"
                    f"  {figures['successful']:>10}  {figures['failed']:>6}"
                    f"  {figures['elapsed']:>7.1f}  {figures['left']:>10}",
                    flush=True,
                )
        finally:
            pbx.stop()


if __name__ == "__main__":
    main()
