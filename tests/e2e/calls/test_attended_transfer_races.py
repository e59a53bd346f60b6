"""Attended transfers racing hang-ups: sipp places short calls from 2001 to 2002 (a few
at a time) while the test starts consultations to 2003 and fires complete, abort,
swap, threeway and hang-ups at whatever channels are live. Each answer is a success or the
spec's errno; afterwards no call is left, the media worker holds no socket (every
endpoint, the consultations' too, was deleted) and no CDR is left open."""

from __future__ import annotations

import contextlib
import random
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.calls.conftest import call_pbx_with
from tests.e2e.calls.peers import answer, call, register, unregister
from tests.e2e.calls.test_call_control_races import wait_until, worker_udp_ports
from tests.harness import PbxProcess, free_port

pytestmark = pytest.mark.peers

CALLS = 60
OPERATIONS = ("start", "start", "complete", "abort", "swap", "threeway", "hangup")
# 10007 gone or no consultation, 10015 not connected or not answered, 10008 consulting
# already, 10011 the target is in the call (a completed transfer's)
EXPECTED_ERRNOS = {"10007", "10015", "10008", "10011"}


@pytest.fixture(scope="module")
def call_pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PbxProcess]:
    """RTP timeout 5 s: sipp sends no RTP; a call left talking ends that way."""
    yield from call_pbx_with(tmp_path_factory, {"KILOPBX_CALL_RTP_TIMEOUT": "5"})


@pytest.fixture
def ports(call_pbx: PbxProcess, workdir: Path) -> Iterator[dict[str, tuple[int, Path]]]:
    registered: dict[str, tuple[int, Path]] = {}
    for number in ("2002", "2003"):
        directory = workdir / number
        directory.mkdir()
        port = free_port(udp_too=True)
        register(call_pbx, number, port, directory)
        registered[number] = (port, directory)
    yield registered
    for number, (port, directory) in registered.items():
        unregister(call_pbx, number, port, directory)


def hammer(pbx: PbxProcess, token: str, stop: threading.Event, seen: list[str]) -> None:
    rng = random.Random(11)
    while not stop.is_set():
        calls = pbx.api("call/query", {"type": "internal"}, token=token)["calls"]
        transferors = [
            m["ext"]["channelid"]
            for c in calls
            for m in c["members"]
            if m["ext"]["number"] == "2001"
        ]
        if not transferors:
            stop.wait(0.01)
            continue
        channel = rng.choice(transferors)
        operation = rng.choice(OPERATIONS)
        if operation == "start":
            body = {"channelid": channel, "tonumber": "2003"}
            answer_ = pbx.api("call/attended_transfer", body, token=token)
        elif operation == "hangup":
            answer_ = pbx.api("call/hangup", {"channelid": channel}, token=token)
        else:
            body = {"channelid": channel, "operate": operation}
            answer_ = pbx.api("call/attended_transfer_operate", body, token=token)
        seen.append(answer_.get("errno", answer_["status"]))


def test_attended_transfers_racing_hang_ups_leave_nothing_behind(
    call_pbx: PbxProcess, ports: dict[str, tuple[int, Path]], workdir: Path
) -> None:
    token = call_pbx.login()
    assert worker_udp_ports(call_pbx) == []
    many = ["-m", "100000"]
    phones = [
        answer(call_pbx, port, directory, scenario="uas_reinvites.xml", extra=many)
        for port, directory in ports.values()
    ]
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
            call_pbx, "2001", "2002", workdir, talk_ms=1500,
            extra=["-m", str(CALLS), "-l", "4", "-r", "5", "-timeout", "60s"],
        )  # fmt: skip
        uac.outcome(timeout=90)  # calls the test hung up count as failed for sipp
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
        for phone in phones:
            phone.kill()
    assert seen and set(seen) <= {"Success", *EXPECTED_ERRNOS}, set(seen)
    assert seen.count("Success") > 20, seen.count("Success")  # the races did happen

    def left() -> list[Any]:
        return list(call_pbx.api("call/query", {"type": "internal"}, token=token)["calls"])

    wait_until(lambda: not left(), "every call ended", left, timeout=30)
    wait_until(lambda: worker_udp_ports(call_pbx) == [], "every media endpoint deleted")

    def open_records() -> list[tuple[Any, ...]]:
        uri = f"file:{call_pbx.data_dir / 'kilopbx.db'}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=5)) as conn:
            return conn.execute("SELECT call_id FROM cdr_open_call").fetchall()

    wait_until(lambda: not open_records(), "no open CDR", open_records)
