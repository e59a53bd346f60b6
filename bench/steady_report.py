"""How the steady-state benchmarks print: one row per step, with the ratio of KiloPBX's
CPU per operation to Kamailio's at the same rate, and a summary of the highest rates."""

from __future__ import annotations

import os
import platform
import subprocess

from bench.steady_proc import CORES
from bench.steady_sipp import NICE, Step

HEAD = (
    "server    rate/s  achieved  failed  retrans  drops  server CPU  per op   media CPU"
    "  machine  vs Kamailio  verdict"
)


def _version(command: list[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if text else "?"


def conditions(load: str, warmup: float, window: float) -> str:
    with open("/proc/loadavg") as file:
        load_average = " ".join(file.read().split()[:3])
    return "\n".join(
        [
            f"{load}; sipp over UDP on loopback, {warmup:.0f} s warm-up + {window:.0f} s "
            f"measured per rate",
            f"machine: {CORES} cores, {platform.python_implementation()} "
            f"{platform.python_version()}, load average {load_average} at start",
            f"sipp: {_version(['sipp', '-v'])[:60]}; kamailio: {_version(['kamailio', '-v'])[:60]}",
            f"priority: {'nice ' + NICE + ' for servers and sipp' if NICE else 'as started'}",
            "CPU: utime+stime from /proc over the measured window, % of one core; per op = "
            "server CPU / operations completed in the window",
            HEAD,
        ]
    )


def _kamailio_at(steps: list[Step], rate: int) -> Step | None:
    """Kamailio's step at ``rate``: one that passed if any, else the last."""
    found = [s for s in steps if s.server == "kamailio" and s.rate == rate]
    passed = [s for s in found if s.passed]
    return (passed or found or [None])[-1]


def row(step: Step, steps: list[Step]) -> str:
    per_op = step.per_op_us("server")
    anchor = _kamailio_at(steps, step.rate)
    ratio = ""
    if step.server != "kamailio" and anchor is not None:
        ratio = f"{per_op / anchor.per_op_us('server'):.2f}x"
    media = f"{step.share('media'):.1f} %" if "media" in step.cpu else "-"
    verdict = "PASS" if step.passed else "FAIL: " + "; ".join(step.why)
    if step.steal > 0.01:
        verdict += f" (hypervisor steal {100 * step.steal:.0f} %)"
    if step.memory[1]:
        verdict += f" (server memory {step.memory[0]:.0f} -> {step.memory[1]:.0f} MiB)"
    if step.slices:
        quickest = step.quickest_slice_us("server")
        verdict += f" (quickest of {len(step.slices)} slices: {quickest:.0f} us per {step.rate}/s)"
        if "media" in step.cpu:
            verdict += f", media {step.quickest_slice_us('media'):.0f} us"
    return (
        f"{step.server:<9} {step.rate:>6}  {step.achieved:>8.0f}  {step.failed:>6}"
        f"  {step.retransmissions:>7}  {step.drops:>5}  {step.share('server'):>8.1f} %"
        f"  {per_op:>5.0f} us  {media:>9}  {100 * step.busy:>5.0f} %  {ratio:>11}  {verdict}"
    )


def print_rows(new: list[Step], steps: list[Step], unit: str) -> None:
    del unit
    for step in new:
        print(row(step, steps), flush=True)


def summary(steps: list[Step], unit: str) -> str:
    lines = [f"highest rate passed (0 failed, retransmissions < 0.1 % of {unit}s):"]
    for server in ("kamailio", "kilopbx"):
        passed = [s for s in steps if s.server == server and s.passed]
        if not passed:
            if any(s.server == server for s in steps):
                lines.append(f"  {server}: none of the rates tried")
            continue
        best = max(passed, key=lambda s: s.rate)
        lines.append(
            f"  {server}: {best.rate}/s, {best.per_op_us('server'):.0f} us of server CPU per "
            f"{unit} ({best.share('server'):.0f} % of a core)"
        )
    ratios = [
        s.per_op_us("server") / anchor.per_op_us("server")
        for s in steps
        if s.server == "kilopbx" and s.passed
        if (anchor := _kamailio_at(steps, s.rate)) is not None
    ]
    if ratios:
        lines.append(
            f"  KiloPBX CPU per {unit} / Kamailio's at the same rate: "
            + ", ".join(f"{r:.2f}x" for r in ratios)
        )
    if os.environ.get("BENCH_STEADY_SECONDS"):
        lines.append("  (run length set by BENCH_STEADY_SECONDS: not the default 60 s)")
    return "\n".join(lines)
