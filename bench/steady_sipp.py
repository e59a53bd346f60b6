"""One steady-state load step: a sipp client at a fixed rate for warm-up + window seconds.

CPU is read over the window only (after the warm-up, when transactions that wait out
Timer J have reached their steady number); failures and retransmissions count over the
whole run, warm-up included. A step passes with every call successful, none failed,
the rate achieved (99 %) and retransmissions under 0.1 % of calls (client and server
side): over UDP, sipp's retransmissions show overload long before calls fail.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.steady_proc import Machine, renice, resident_mb, spent, ticks_of, udp_drops

HOST = "127.0.0.1"
BUFFER = 1 << 20  # sipp's own sockets: 1 MiB (its default is 64 KiB)
# A nice value for servers and sipp alike (say -10 on a machine shared with other
# work); empty: left as started.
NICE = os.environ.get("BENCH_STEADY_NICE", "")
# The window read in this many slices as well: on a shared machine the quickest slice
# (CPU per operation at the offered rate) is the least disturbed by the neighbours.
SLICES = int(os.environ.get("BENCH_STEADY_SLICES", "1"))

Pids = Callable[[], list[int]]


@dataclass
class Step:
    server: str
    rate: int
    calls: int
    successful: int = 0
    failed: int = 0
    retransmissions: int = 0
    created: int = 0
    achieved: float = 0.0
    drops: int = 0
    window: float = 0.0
    busy: float = 0.0  # cores busy on the whole machine during the window
    steal: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # group -> CPU seconds in window
    # (start, end, group -> CPU seconds) per slice of the window (BENCH_STEADY_SLICES),
    # times from time.time() as sipp stamps its statistics; ``done`` then counts the
    # calls (registrations) completed in each, read from sipp's statistics
    slices: list[tuple[float, float, dict[str, float]]] = field(default_factory=list)
    done: list[float] = field(default_factory=list)
    why: list[str] = field(default_factory=list)
    # the server's resident memory (MiB) as the window starts and ends: a process that
    # keeps what its calls leave behind grows through a steady run
    memory: tuple[float, float] = (0.0, 0.0)

    @property
    def passed(self) -> bool:
        return not self.why

    def share(self, group: str) -> float:
        """% of one core the group used over the window."""
        return 100.0 * self.cpu.get(group, 0.0) / self.window if self.window else 0.0

    def quickest_slice_us(self, *groups: str) -> float:
        """CPU microseconds per operation in the slice that needed the least (operations
        completed in a slice interpolated from sipp's statistics, one row a second)."""
        per_op = [
            1e6 * sum(cpu.get(g, 0.0) for g in groups) / done
            for (_start, _end, cpu), done in zip(self.slices, self.done, strict=True)
            if done > 0
        ]
        return min(per_op) if per_op else float("nan")

    def per_op_us(self, *groups: str) -> float:
        """CPU microseconds per operation (registration or call) over the window."""
        done = self.achieved * self.window
        used = sum(self.cpu.get(g, 0.0) for g in groups)
        return 1e6 * used / done if done else float("nan")


def sipp(workdir: Path, name: str, target: str, args: list[str]) -> list[str]:
    return [
        "sipp", target, "-nostdin", "-i", HOST, "-buff_size", str(BUFFER),
        "-trace_stat", "-stf", str(workdir / f"{name}_stat.csv"), "-fd", "1",
        "-trace_err", "-error_file", str(workdir / f"{name}_errors.log"),
        "-max_log_size", "2000000", *args,
    ]  # fmt: skip


def read_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a sipp -trace_stat CSV (';'-separated), one a second."""
    if not path.exists():
        return []
    lines = [line.rstrip("\n;") for line in path.read_text().splitlines() if line.strip()]
    head = lines[0].split(";") if lines else []
    return [dict(zip(head, line.split(";"), strict=False)) for line in lines[1:]]


def read_stats(path: Path) -> dict[str, str]:
    rows = read_rows(path)
    return rows[-1] if rows else {}


def _epoch(value: str) -> float:
    return float(value.split("\t")[-1])


def creation_rate(rows: list[dict[str, str]], total: int) -> float:
    """Calls sipp created per second while it was still creating them."""
    rate = 0.0
    for row in rows:
        created = _count(row, "TotalCallCreated")
        elapsed = _epoch(row["CurrentTime"]) - _epoch(row["StartTime"])
        if elapsed > 1.0 and 0 < created < total:
            rate = created / elapsed
        elif created >= total and not rate and elapsed > 0:
            rate = created / elapsed  # the whole run within one statistics period
    return rate


def _completed(rows: list[dict[str, str]], at: float) -> float:
    """Successful calls (registrations) by epoch time ``at``, interpolated between
    sipp's statistics rows."""
    points = [(_epoch(r["CurrentTime"]), _count(r, "SuccessfulCall(C)")) for r in rows]
    for (t0, n0), (t1, n1) in itertools.pairwise(points):
        if t0 <= at <= t1 and t1 > t0:
            return n0 + (n1 - n0) * (at - t0) / (t1 - t0)
    return float("nan")


def _count(stats: dict[str, str], key: str) -> int:
    value = stats.get(key, "0") or "0"
    return int(value) if value.isdigit() else 0


def run_step(
    *,
    server: str,
    rate: int,
    warmup: float,
    window: float,
    client: list[str],
    workdir: Path,
    groups: dict[str, Pids],
    ports: tuple[int, ...],
    uas: subprocess.Popen[bytes] | None = None,
) -> Step:
    """Run the sipp client command (without -r/-m, added here) and measure."""
    total = int(rate * (warmup + window))
    step = Step(server, rate, total)
    command = [*client, "-r", str(rate), "-m", str(total), "-l", str(max(3 * rate, 1000))]
    drops0 = udp_drops(ports)
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=workdir, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip

    def prioritise() -> None:
        if NICE:
            others = [uas.pid] if uas is not None else []
            renice(
                [process.pid, *others, *(p for pids in groups.values() for p in pids())], int(NICE)
            )

    try:
        prioritise()
        _sleep_until(started + warmup, process)
        prioritise()  # threads started since
        snap0 = {g: ticks_of(pids()) for g, pids in groups.items()}
        memory0 = resident_mb(groups["server"]())
        machine0, t0 = Machine.now(), time.monotonic()
        before, at = snap0, time.time()
        for n in range(1, SLICES + 1):
            _sleep_until(started + warmup + window * n / SLICES, process)
            now, now_at = {g: ticks_of(pids()) for g, pids in groups.items()}, time.time()
            if SLICES > 1:
                step.slices.append((at, now_at, {g: spent(before[g], now[g]) for g in groups}))
            before, at = now, now_at
        snap1 = before
        step.memory = (memory0, resident_mb(groups["server"]()))
        machine1, t1 = Machine.now(), time.monotonic()
        process.wait(timeout=warmup + window + 120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    step.window = t1 - t0
    step.cpu = {g: spent(snap0[g], snap1[g]) for g in groups}
    step.busy = machine1.busy_since(machine0, step.window)
    step.steal = machine1.steal_since(machine0, step.window)
    drops1 = udp_drops(ports)
    step.drops = sum(drops1.get(p, 0) - drops0.get(p, 0) for p in ports)
    rows = read_rows(workdir / "uac_stat.csv")
    stats = rows[-1] if rows else {}
    step.created = _count(stats, "TotalCallCreated")
    step.successful = _count(stats, "SuccessfulCall(C)")
    step.failed = _count(stats, "FailedCall(C)")
    step.retransmissions = _count(stats, "Retransmissions(C)")
    step.achieved = creation_rate(rows, total)
    step.done = [_completed(rows, end) - _completed(rows, start) for start, end, _ in step.slices]
    if uas is not None:
        try:
            uas.wait(timeout=30)
        except subprocess.TimeoutExpired:
            uas.kill()
            uas.wait()
        server_side = read_stats(workdir / "uas_stat.csv")
        step.failed += _count(server_side, "FailedCall(C)")
        step.retransmissions += _count(server_side, "Retransmissions(C)")
    _judge(step, total)
    return step


def _sleep_until(deadline: float, process: subprocess.Popen[bytes]) -> None:
    while (left := deadline - time.monotonic()) > 0 and process.poll() is None:
        time.sleep(min(left, 0.2))


def _judge(step: Step, total: int) -> None:
    if step.successful != total or step.failed:
        step.why.append(f"{step.successful} of {total} successful, {step.failed} failed")
    if step.achieved < 0.99 * step.rate:
        step.why.append(f"rate {step.achieved:.0f}/s")
    if step.retransmissions * 1000 >= total:
        step.why.append(f"{step.retransmissions} retransmissions")
