"""call/listen and call/add_member racing hang-ups: sipp places short calls (a few at a
time) while the test fires listen (every mode), add_member, hold and unhold (of a
conference's party too) and hang-ups of one
channel or of the whole call at whatever is live. Each answer is a success or the
spec's errno; afterwards no call is left, the media worker holds no socket (every
endpoint, the extra members' too, was deleted), every reported call has its CDR and
none is left open."""

from __future__ import annotations

import contextlib
import random
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.calls.conftest import call_pbx_with
from tests.e2e.calls.peers import answer, call, register, unregister
from tests.e2e.calls.test_call_control_races import wait_until, worker_udp_ports
from tests.harness import EventReceiver, PbxProcess, free_port

pytestmark = pytest.mark.peers

CALLS = 40
# 10005 a call id gone, 10007 a channel gone, 10008 not idle (busy, a monitor already),
# 10015 still ringing
EXPECTED_ERRNOS = {"10005", "10007", "10008", "10015"}


@pytest.fixture(scope="module")
def call_pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PbxProcess]:
    """RTP timeout 3 s: sipp sends no RTP, so a conference whose first caller left
    (its BYE absorbed) ends that way, the path of phones that went silent."""
    yield from call_pbx_with(tmp_path_factory, {"KILOPBX_CALL_RTP_TIMEOUT": "3"})


@pytest.fixture
def phones(call_pbx: PbxProcess, workdir: Path) -> Iterator[tuple[int, int]]:
    agent, third = free_port(udp_too=True), free_port(udp_too=True)
    register(call_pbx, "2002", agent, workdir)
    register(call_pbx, "2003", third, workdir)
    yield agent, third
    unregister(call_pbx, "2002", agent, workdir)
    unregister(call_pbx, "2003", third, workdir)


def hammer(pbx: PbxProcess, token: str, stop: threading.Event, seen: list[tuple[str, str]]) -> None:
    """Operations on random live calls until ``stop``; (operation, answer) to ``seen``."""
    rng = random.Random(11)
    while not stop.is_set():
        calls = pbx.api("call/query", {"type": "internal"}, token=token)["calls"]
        channels = [m["ext"]["channelid"] for c in calls for m in c["members"]]
        if not channels:
            time.sleep(0.01)
            continue
        operation = rng.choice(
            ("listen", "listen", "add_member", "add_member", "hold", "unhold", "hangup")
        )
        if operation == "listen":
            mode = rng.choice(("listen", "whisper", "barge"))
            body = {"monitor": "2003", "extension": "2002", "type": mode}
            result = pbx.api("call/listen", body, token=token)
        elif operation in ("hold", "unhold"):  # a party of the conference (or not)
            answering = [
                m["ext"]["channelid"]
                for c in calls
                for m in c["members"]
                if m["ext"]["number"] in ("2002", "2003")  # their sipp takes re-INVITEs
            ]
            body = {"channelid": rng.choice(answering or channels)}
            result = pbx.api(f"call/{operation}", body, token=token)
        elif operation == "add_member":
            body = {"channelid": rng.choice(channels), "number": "2003"}
            result = pbx.api("call/add_member", body, token=token)
        elif rng.random() < 0.5:
            result = pbx.api("call/hangup", {"channelid": rng.choice(channels)}, token=token)
        else:
            result = pbx.api("call/hangup", {"callid": rng.choice(calls)["callid"]}, token=token)
        seen.append((operation, str(result.get("errno", result["status"]))))


def test_listen_and_add_member_racing_hang_ups_leave_nothing_behind(
    call_pbx: PbxProcess, phones: tuple[int, int], workdir: Path, receiver: EventReceiver
) -> None:
    token = call_pbx.login(port=receiver.port)
    ok = {"status": "Success"}
    update = {"number": "2002", "allowbeingmonitored": "on"}
    assert call_pbx.api("extension/update", update, token=token) == ok
    update = {"number": "2003", "monitormode": "Extensive"}
    assert call_pbx.api("extension/update", update, token=token) == ok
    assert worker_udp_ports(call_pbx) == []
    many = ["-m", "100000"]
    agent = answer(call_pbx, phones[0], workdir, scenario="uas_reinvites.xml", extra=many)
    third_dir = workdir / "third"
    third_dir.mkdir()
    third = answer(call_pbx, phones[1], third_dir, scenario="uas_reinvites.xml", extra=many)
    stop = threading.Event()
    seen: list[tuple[str, str]] = []
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
            talk_ms=1500,
            extra=["-m", str(CALLS), "-l", "6", "-r", "10", "-timeout", "40s"],
        )
        _, uac_out = uac.outcome(timeout=60)  # calls cut short count as failed for sipp
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    try:
        answers = Counter(result for _, result in seen)
        assert set(answers) <= {"Success", *EXPECTED_ERRNOS}, answers
        joined = Counter(op for op, result in seen if result == "Success" and op != "hangup")
        assert joined["listen"] + joined["add_member"] >= 5, joined  # the races happened
        assert joined["hold"] + joined["unhold"] >= 2, joined

        def no_calls() -> bool:
            return not call_pbx.api("call/query", {"type": "internal"}, token=token)["calls"]

        try:
            wait_until(no_calls, "every call ended")
        except AssertionError:
            left = call_pbx.api("call/query", {"type": "internal"}, token=token)["calls"]
            raise AssertionError(f"{left}\n{uac_out[-2000:]}\n{call_pbx.log_tail(60)}") from None
        wait_until(lambda: worker_udp_ports(call_pbx) == [], "every media endpoint deleted")
    finally:
        agent.kill()
        third.kill()

    def database(query: str) -> list[tuple[Any, ...]]:
        uri = f"file:{call_pbx.data_dir / 'kilopbx.db'}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=5)) as conn:
            return conn.execute(query).fetchall()

    def unrecorded() -> set[str]:
        reported = {e["callid"] for e in list(receiver.events) if e.get("event") == "CallStatus"}
        return reported - {row[0] for row in database("SELECT call_id FROM cdr")}

    wait_until(lambda: not unrecorded(), "a CDR for every call", unrecorded)
    wait_until(lambda: not database("SELECT call_id FROM cdr_open_call"), "no open CDR")
    (duplicates,) = database("SELECT COUNT(*) - COUNT(DISTINCT call_id) FROM cdr")
    assert duplicates == (0,)
