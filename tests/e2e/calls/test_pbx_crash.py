"""``kill -9`` of the PBX during calls (one PBX of its own, killed and started again):
the CDR of a call that had ended is there, the calls that were in progress (one
answered, one ringing) get their CDR at the next start with how they ended, the lines
are idle again, the old media worker leaves no orphan behind, and a new call works at
once."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.calls.conftest import call_pbx_with
from tests.e2e.calls.peers import answer, call, register
from tests.harness import PbxProcess, free_port, media_workers

pytestmark = pytest.mark.peers


@pytest.fixture(scope="module")
def crash_pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PbxProcess]:
    yield from call_pbx_with(tmp_path_factory, {"TZ": "UTC"})


def statuses(pbx: PbxProcess) -> dict[str, str]:
    listing = pbx.api("extension/list", {}, token=pbx.login())["extlist"]
    return {e["number"]: e["status"] for e in listing}


def wait_status(pbx: PbxProcess, number: str, status: str) -> None:
    deadline = time.monotonic() + 10
    while (seen := statuses(pbx)[number]) != status:
        assert time.monotonic() < deadline, f"{number} is {seen}, not {status}"
        time.sleep(0.05)


def cdr_rows(pbx: PbxProcess) -> list[tuple[str, str, str, str, float | None, float]]:
    with sqlite3.connect(pbx.data_dir / "kilopbx.db") as conn:
        rows = conn.execute(
            "SELECT call_id, caller, callee, disposition, answered_at, ended_at FROM cdr"
            " ORDER BY started_at, id"
        )
        return list(rows)


def wait_rows(pbx: PbxProcess, count: int) -> list[tuple[str, str, str, str, float | None, float]]:
    """The CDRs once there are ``count`` (one is committed just after its call ends)."""
    deadline = time.monotonic() + 10
    while len(rows := cdr_rows(pbx)) < count:
        assert time.monotonic() < deadline, rows
        time.sleep(0.05)
    return rows


def open_rows(pbx: PbxProcess) -> int:
    with sqlite3.connect(pbx.data_dir / "kilopbx.db") as conn:
        (count,) = conn.execute("SELECT count(*) FROM cdr_open_call").fetchone()
        return int(count)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return "Z"


def test_kill_9_during_calls_loses_no_cdr_and_cleans_up(
    crash_pbx: PbxProcess, workdir: Path
) -> None:
    pbx = crash_pbx
    talking_port, ringing_port = free_port(udp_too=True), free_port(udp_too=True)
    register(pbx, "2002", talking_port, workdir)
    register(pbx, "2003", ringing_port, workdir)
    callee = answer(pbx, talking_port, workdir)  # a call that ends before the crash
    call(pbx, "2001", "2002", workdir).finish()
    callee.finish()
    (ended,) = wait_rows(pbx, 1)
    assert ended[1:4] == ("2001", "2002", "ANSWERED")

    peers = [
        answer(pbx, talking_port, workdir),
        answer(pbx, ringing_port, workdir, scenario="uas_ring.xml"),
    ]
    try:
        peers.append(call(pbx, "2001", "2002", workdir, scenario="uac_wait_bye.xml"))
        wait_status(pbx, "2002", "Busy")
        peers.append(call(pbx, "2002", "2003", workdir))
        wait_status(pbx, "2003", "Ringing")
        assert open_rows(pbx) == 2
        (worker,) = media_workers(pbx)
        crashed_at = time.time()
        pbx.kill9()
    finally:
        for peer in peers:
            peer.kill()

    pbx.start()
    rows = wait_rows(pbx, 3)
    assert rows[0] == ended  # untouched
    cut_off = {(caller, callee, status) for _, caller, callee, status, _, _ in rows[1:]}
    assert cut_off == {("2001", "2002", "ANSWERED"), ("2002", "2003", "NO ANSWER")}
    assert all(row[5] <= crashed_at + 1 for row in rows[1:])  # ends by the crash, not now
    assert open_rows(pbx) == 0
    lines = statuses(pbx)
    assert (lines["2001"], lines["2002"], lines["2003"]) == (
        "Unavailable",
        "Registered",
        "Registered",
    )

    callee = answer(pbx, talking_port, workdir)  # the registration survived: call again
    try:
        call(pbx, "2001", "2002", workdir).finish()
        callee.finish()
    finally:
        callee.kill()
    assert wait_rows(pbx, 4)[-1][1:4] == ("2001", "2002", "ANSWERED")
    deadline = time.monotonic() + 15  # the orphaned worker's linger is 10 s
    while alive(worker):
        assert time.monotonic() < deadline, "the old media worker is still running"
        time.sleep(0.1)
