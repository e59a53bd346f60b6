"""Registrar against sipp: 1000 extensions made through the API register with MD5 digest
over UDP and TCP, re-register, survive a restart, unregister; wrong passwords are
refused; extension/list and ExtensionStatus events follow."""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.e2e.sipp.runner import User, run_sipp, write_users
from tests.harness import EventReceiver, PbxProcess, free_port

pytestmark = pytest.mark.peers

COUNT = 1000
FIRST = 3000
PASSWORD = "Kx7mPq2wRt9vBn4Z"
ENV = {
    "KILOPBX_REGISTRAR_QUALIFY_INTERVAL": "0",  # sipp does not answer OPTIONS between runs
    "KILOPBX_LOG_LEVEL": "WARNING",
}


def create_extensions(pbx: PbxProcess, token: str, count: int) -> list[User]:
    pbx.api("extension/delete", {"number": "all"}, token=token)  # the shipped defaults
    users = [User(str(FIRST + i), f"u{FIRST + i}", PASSWORD) for i in range(count)]

    def add(user: User) -> None:
        body = {
            "number": user.number,
            "username": f"User {user.number}",
            "registername": user.auth_name,
            "registerpassword": user.password,
        }
        answer = pbx.api("extension/add", body, token=token)
        assert answer["status"] == "Success", (user, answer)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(add, users))
    return users


def statuses(pbx: PbxProcess, token: str) -> Counter[str]:
    answer = pbx.api("extension/list", {}, token=token)
    return Counter(entry["status"] for entry in answer["extlist"])


def stored_bindings(pbx: PbxProcess) -> list[tuple[str, str, str]]:
    with sqlite3.connect(pbx.data_dir / "kilopbx.db") as db:
        return list(db.execute("SELECT number, transport, host FROM registrar_binding"))


def stored_transports(pbx: PbxProcess, expected: Counter[str], timeout: float = 2.0) -> None:
    """The stored bindings by transport reach ``expected`` within the write-behind window
    (50 ms plus a commit; the timeout only bounds the wait)."""
    deadline = time.monotonic() + timeout
    while True:
        found = Counter(row[1] for row in stored_bindings(pbx))
        if found == expected or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert found == expected


def ext_events(receiver: EventReceiver, status: str) -> list[dict[str, object]]:
    return [e for e in receiver.named("ExtensionStatus") if e["status"] == status]


def test_thousand_extensions_register_udp_tcp_restart_unregister(
    make_pbx: Callable[..., PbxProcess], receiver: EventReceiver, tmp_path: Path
) -> None:
    pbx = make_pbx(ENV)
    token = pbx.login(port=receiver.port)
    users = create_extensions(pbx, token, COUNT)
    csv = write_users(tmp_path / "users.csv", users, expires=600)

    def sipp(scenario: str, name: str, transport: str = "u1", users_csv: Path = csv) -> None:
        calls = sum(1 for _ in users_csv.open()) - 1
        result = run_sipp(
            scenario,
            users_csv,
            pbx.sip_port,
            workdir=tmp_path / name,
            calls=calls,
            rate=500,
            transport=transport,
            local_port=free_port(udp_too=True),
            timeout=60,
        )
        assert (result.successful, result.failed) == (calls, 0), (
            result.output[-1500:],
            result.errors[-1500:],
            pbx.log_tail(),
        )

    # all of them over UDP
    sipp("register_auth.xml", "udp")
    assert statuses(pbx, token) == Counter({"Registered": COUNT})
    receiver.wait_for(lambda ev: len(ext_events(receiver, "Registered")) >= COUNT, timeout=60)
    regs = receiver.named("ExtensionStatus")
    assert {e["extension"] for e in regs} == {u.number for u in users}
    assert all(e["status"] == "Registered" and e["registeredIP"] == "127.0.0.1" for e in regs)
    stored_transports(pbx, Counter({"udp": COUNT}))

    # again over TCP: the new contact replaces the old one (maxregistrations 1); same IP,
    # so no new event
    sipp("register_auth.xml", "tcp", transport="t1")
    assert statuses(pbx, token) == Counter({"Registered": COUNT})
    stored_transports(pbx, Counter({"tcp": COUNT}))

    # re-register over UDP
    sipp("register_auth.xml", "udp-again")
    stored_transports(pbx, Counter({"udp": COUNT}))
    assert len(ext_events(receiver, "Registered")) == COUNT  # never a duplicate status

    # a restart keeps the registrations
    pbx.restart()
    token = pbx.login(port=receiver.port)
    assert statuses(pbx, token) == Counter({"Registered": COUNT})

    # a wrong password is refused (403) and registers nothing
    wrong = [User(u.number, u.auth_name, "Wrong1Password2x") for u in users[:3]]
    sipp("register_wrong.xml", "wrong", users_csv=write_users(tmp_path / "wrong.csv", wrong))

    # Contact: * with Expires: 0 removes them all
    sipp("unregister.xml", "unregister")
    assert statuses(pbx, token) == Counter({"Unavailable": COUNT})
    receiver.wait_for(lambda ev: len(ext_events(receiver, "Unregistered")) >= COUNT, timeout=60)
    unregistered = ext_events(receiver, "Unregistered")
    assert len(unregistered) == COUNT
    assert all("registeredIP" not in e for e in unregistered)
    assert len(ext_events(receiver, "Registered")) == COUNT  # the restart sent none
    stored_transports(pbx, Counter())


def test_expiry_and_directory_changes(
    make_pbx: Callable[..., PbxProcess], receiver: EventReceiver, tmp_path: Path
) -> None:
    pbx = make_pbx({**ENV, "KILOPBX_REGISTRAR_MIN_EXPIRES": "2"})
    token = pbx.login(port=receiver.port)
    users = create_extensions(pbx, token, 3)
    short = write_users(tmp_path / "short.csv", users[:1], expires=2)
    long = write_users(tmp_path / "long.csv", users[1:], expires=600)
    for name, csv in (("short", short), ("long", long)):
        result = run_sipp(
            "register_auth.xml",
            csv,
            pbx.sip_port,
            workdir=tmp_path / name,
            calls=sum(1 for _ in csv.open()) - 1,
            local_port=free_port(udp_too=True),
            timeout=30,
        )
        assert result.failed == 0 and result.successful >= 1, result.output[-1500:]
    assert statuses(pbx, token) == Counter({"Registered": 3})

    # the 2-second registration expires on time
    receiver.wait_for(lambda ev: bool(ext_events(receiver, "Unregistered")), timeout=10)
    assert [e["extension"] for e in ext_events(receiver, "Unregistered")] == [users[0].number]

    # a new password drops the binding; deleting the extension drops its binding
    answer = pbx.api(
        "extension/update",
        {"number": users[1].number, "registerpassword": "Nw4pTq8zLx2kVb6R"},
        token=token,
    )
    assert answer["status"] == "Success", answer
    pbx.api("extension/delete", {"number": users[2].number}, token=token)
    receiver.wait_for(lambda ev: len(ext_events(receiver, "Unregistered")) >= 3, timeout=10)
    assert sorted(e["extension"] for e in ext_events(receiver, "Unregistered")) == sorted(
        u.number for u in users
    )
    assert statuses(pbx, token) == Counter({"Unavailable": 2})
    stored_transports(pbx, Counter())
