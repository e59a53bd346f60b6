"""API operations racing hang-ups: sipp places a few hundred short calls (a few at a
time) while the test fires hold, unhold, mute, unmute, transfer, park and hang-up at
whatever channels are live. Each answer is a success or the spec's errno (10007 no
such channel, 10015 not connected); afterwards no call is left, the media worker
holds no more sockets than before (every endpoint was deleted) and every call that
was reported has its CDR (read from the database file: events may be dropped
under this load) and no call is left open in it."""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.calls.conftest import call_pbx_with
from tests.e2e.calls.peers import answer, call
from tests.harness import EventReceiver, PbxProcess

pytestmark = pytest.mark.peers

CALLS = 200
OPERATIONS = (
    *("call/hold", "call/unhold", "call/mute", "call/unmute"),
    *("call/transfer", "call/callpark", "hangup"),
)
EXPECTED_ERRNOS = {"10007", "10015", "10008"}  # 10008: every parking slot taken


@pytest.fixture(scope="module")
def call_pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PbxProcess]:
    """RTP timeout 5 s: sipp sends no RTP, and a call whose phones went away with the
    killed sipp ends that way (the cleanup path of a vanished phone). Park timeout
    2 s: a parked call rings its parker (2001, not registered: the call ends)."""
    env = {"KILOPBX_CALL_RTP_TIMEOUT": "5", "KILOPBX_CALL_PARK_TIMEOUT": "2"}
    yield from call_pbx_with(tmp_path_factory, env)


def worker_udp_ports(pbx: PbxProcess) -> list[int]:
    """The UDP ports the PBX's child processes (the media workers) hold: two per
    media endpoint (RTP and RTCP)."""
    assert pbx.proc is not None
    children = Path(f"/proc/{pbx.proc.pid}/task/{pbx.proc.pid}/children").read_text().split()
    inodes = set()
    for child in children:
        with_fds = Path(f"/proc/{child}/fd")
        for fd in os.listdir(with_fds):
            try:
                link = os.readlink(with_fds / fd)
            except OSError:
                continue  # closed while we looked
            if link.startswith("socket:["):
                inodes.add(link[len("socket:[") : -1])
    ports = []
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[9] in inodes:
            ports.append(int(fields[1].split(":")[1], 16))
    return sorted(ports)


def wait_until(check: Any, what: str, state: Any = str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: {state()}"
        time.sleep(0.1)


def hammer(pbx: PbxProcess, token: str, stop: threading.Event, seen: list[str]) -> None:
    """Operations on random live channels until ``stop``; every answer goes to ``seen``."""
    rng = random.Random(7)
    while not stop.is_set():
        calls = pbx.api("call/query", {"type": "internal"}, token=token)["calls"]
        channels = [m["ext"]["channelid"] for c in calls for m in c["members"]]
        if not channels:
            time.sleep(0.01)
            continue
        channel = rng.choice(channels)
        operation = rng.choice(OPERATIONS)
        if operation in ("call/hold", "call/unhold", "call/transfer"):
            # the caller's channel: only the callee's sipp takes re-INVITEs, and a
            # transferred callee would be left talking to another sipp call for ever
            channel = rng.choice([c["members"][0]["ext"]["channelid"] for c in calls])
        if operation == "hangup":
            answer_ = pbx.api("call/hangup", {"channelid": channel}, token=token)
        elif operation == "call/transfer":
            body = {"channelid": channel, "number": "2002"}
            answer_ = pbx.api(operation, body, token=token)
        else:
            answer_ = pbx.api(operation, {"channelid": channel}, token=token)
        seen.append(answer_.get("errno", answer_["status"]))


def test_operations_racing_hang_ups_leave_nothing_behind(
    call_pbx: PbxProcess, callee_port: int, workdir: Path, receiver: EventReceiver
) -> None:
    token = call_pbx.login(port=receiver.port)
    assert worker_udp_ports(call_pbx) == []  # no endpoint before the calls
    uas = answer(
        call_pbx, callee_port, workdir, scenario="uas_reinvites.xml", extra=["-m", "100000"]
    )
    stop = threading.Event()
    seen: list[str] = []
    threads = [
        threading.Thread(target=hammer, args=(call_pbx, token, stop, seen), daemon=True)
        for _ in range(2)
    ]
    try:
        for thread in threads:
            thread.start()
        uac = call(
            call_pbx,
            "2001",
            "2002",
            workdir,
            talk_ms=300,
            extra=["-m", str(CALLS), "-l", "8", "-r", "25", "-timeout", "60s"],
        )
        _, uac_out = uac.outcome(
            timeout=90
        )  # hung-up calls count as failed for sipp: not our business
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
        uas.kill()
    assert seen and set(seen) <= {"Success", *EXPECTED_ERRNOS}, set(seen)
    assert seen.count("Success") > 50, seen.count("Success")  # the races did happen

    def no_calls() -> bool:
        return not call_pbx.api("call/query", {"type": "internal"}, token=token)["calls"]

    try:
        wait_until(no_calls, "every call ended")
    except AssertionError:
        left = call_pbx.api("call/query", {"type": "internal"}, token=token)["calls"]
        raise AssertionError(f"{left}\n{uac_out[-3000:]}\n{call_pbx.log_tail(60)}") from None
    wait_until(lambda: worker_udp_ports(call_pbx) == [], "every media endpoint deleted")

    def database(query: str) -> list[tuple[Any, ...]]:
        # read-only and closed at once: a reader left open makes the PBX's writes wait
        uri = f"file:{call_pbx.data_dir / 'kilopbx.db'}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=5)) as conn:
            return conn.execute(query).fetchall()

    def unrecorded() -> set[str]:  # calls the events showed and the CDR table has not
        reported = {e["callid"] for e in list(receiver.events) if e.get("event") == "CallStatus"}
        return reported - {row[0] for row in database("SELECT call_id FROM cdr")}

    wait_until(lambda: not unrecorded(), "a CDR for every call", unrecorded)
    wait_until(lambda: not database("SELECT call_id FROM cdr_open_call"), "no open CDR")
    (duplicates,) = database("SELECT COUNT(*) - COUNT(DISTINCT call_id) FROM cdr")
    assert duplicates == (0,)
