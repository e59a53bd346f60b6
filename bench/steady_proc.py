"""What the steady-state benchmarks read from /proc: CPU of process trees, the machine's
busy time and hypervisor steal, UDP drops per socket.

CPU is utime+stime from /proc/PID/stat (exact per process, all threads), summed over a
process and its descendants. The machine's busy time is cores x wall - idle from
/proc/stat (idle is exact under NO_HZ, user/system there are tick samples).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

CLK_TCK = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1
PAGE = os.sysconf("SC_PAGE_SIZE")


def process_ticks(pid: int) -> int | None:
    """utime+stime of one process in clock ticks; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            text = file.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as file:
                text = file.read()
        except OSError:
            continue
        parent = int(text[text.rindex(")") + 2 :].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def resident_mb(pids: list[int]) -> float:
    """Resident memory of ``pids`` together, in MiB (processes gone are skipped)."""
    pages = 0
    for pid in pids:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/statm") as file:
            pages += int(file.read().split()[1])
    return pages * PAGE / 1048576


def ticks_of(pids: list[int]) -> dict[int, int]:
    out = {}
    for pid in pids:
        ticks = process_ticks(pid)
        if ticks is not None:
            out[pid] = ticks
    return out


def spent(before: dict[int, int], after: dict[int, int]) -> float:
    """CPU seconds between two ``ticks_of`` snapshots (processes present in both)."""
    return sum(after[pid] - before[pid] for pid in after if pid in before) / CLK_TCK


@dataclass(frozen=True)
class Machine:
    idle: float  # seconds, all cores
    steal: float

    @staticmethod
    def now() -> Machine:
        with open("/proc/stat") as file:
            values = [int(v) for v in file.readline().split()[1:]]
        return Machine((values[3] + values[4]) / CLK_TCK, values[7] / CLK_TCK)

    def busy_since(self, earlier: Machine, wall: float) -> float:
        """Cores busy on average over ``wall`` seconds (0 .. CORES)."""
        return (CORES * wall - (self.idle - earlier.idle)) / wall

    def steal_since(self, earlier: Machine, wall: float) -> float:
        return (self.steal - earlier.steal) / wall


def udp_drops(ports: tuple[int, ...]) -> dict[int, int]:
    """Datagrams dropped by a full receive buffer, per local UDP port (all addresses)."""
    out: dict[int, int] = {}
    with open("/proc/net/udp") as file:
        next(file)
        for line in file:
            values = line.split()
            port = int(values[1].split(":")[1], 16)
            if port in ports:
                out[port] = out.get(port, 0) + int(values[-1])
    return out


def renice(pids: list[int], nice: int) -> None:
    """Set the nice value of every thread of these processes (BENCH_STEADY_NICE): on a
    machine shared with other work, servers and load generator alike get their CPU
    when they need it, so the comparison measures them rather than the neighbours."""
    for pid in pids:
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for task in tasks:
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, int(task), nice)
