"""extension/* beyond single requests: concurrent writers, the KiloPBX extension
endpoints (renumber, status monitor, number plan) and ConfigChange events at a real
receiver. One PBX serves the module; each test uses its own numbers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.config_helpers import OK, call, failed, start_module_pbx
from tests.e2e.config_helpers import add_extension as add
from tests.e2e.config_helpers import query_extension as query_one
from tests.harness import EventReceiver, PbxProcess


@pytest.fixture(scope="module")
def pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PbxProcess]:
    yield from start_module_pbx(tmp_path_factory, "extension-extras")


@pytest.fixture(scope="module")
def token(pbx: PbxProcess) -> str:
    return pbx.login()


# -- concurrent writers -----------------------------------------------------------------------


def test_concurrent_updates_lose_nothing(pbx: PbxProcess, token: str) -> None:
    assert add(pbx, token, 2140) == OK
    changes = [
        {"dnd": "on"},
        {"callrestriction": "on"},
        {"ringtimeout": "90"},
        {"email": "c@example.com"},
        {"mobile": "123456"},
        {"agentid": "42"},
        {"username": "Concurrent"},
        {"maxregistrations": "4"},
    ]
    answers: list[dict[str, Any]] = []

    def send(fields: dict[str, str]) -> None:
        answers.append(pbx.api("extension/update", {"number": "2140", **fields}, token=token))

    threads = [threading.Thread(target=send, args=(c,)) for c in changes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert answers == [OK] * len(changes)
    info = query_one(pbx, token, "2140")
    for fields in changes:
        for key, value in fields.items():
            assert info[key] == value


def test_concurrent_writes_of_one_field_leave_a_whole_row(pbx: PbxProcess, token: str) -> None:
    assert add(pbx, token, 2141) == OK
    names = [f"Writer {i}" for i in range(8)]
    threads = [
        threading.Thread(
            target=pbx.api,
            args=("extension/update", {"number": "2141", "username": n, "agentid": str(i)}),
            kwargs={"token": token},
        )
        for i, n in enumerate(names)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    info = query_one(pbx, token, "2141")
    assert info["username"] in names
    assert info["agentid"] == str(names.index(info["username"]))


def test_concurrent_adds_of_one_number(pbx: PbxProcess, token: str) -> None:
    answers: list[dict[str, Any]] = []

    def send(i: int) -> None:
        answers.append(add(pbx, token, 2142, registername=f"race{i}"))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert answers.count(OK) == 1
    assert answers.count(failed("10017")) == 5


# -- KiloPBX extensions -----------------------------------------------------------------------


def test_renumber(pbx: PbxProcess, token: str) -> None:
    assert add(pbx, token, 2170) == OK
    assert add(pbx, token, 2171, busyforward="on", btransferto="Extension", btransferext="2170")
    group = pbx.api("extensiongroup/add", {"name": "renum", "members": "2170"}, token=token)
    body = {"number": "2170", "newnumber": "2172"}
    assert pbx.api("extension/renumber", body, token=token) == OK
    assert query_one(pbx, token, "2172")["callerid"] == "2172"
    assert query_one(pbx, token, "2171")["btransferext"] == "2172"
    members = pbx.api("extensiongroup/query", {"id": group["id"]}, token=token)
    assert members["extgroupinfos"][0]["members"] == "2172"
    assert pbx.api("extension/query", {"number": "2170"}, token=token) == failed("10006")
    answer, detail = call(pbx, token, "extension/renumber", {"number": "2172", "newnumber": 1000})
    assert answer == failed("10017")
    assert "(1000)" in detail
    missing = {"number": "2999", "newnumber": "2998"}
    assert pbx.api("extension/renumber", missing, token=token) == failed("10006")
    assert pbx.api("extension/renumber", {"number": "2172"}, token=token) == failed("10004")
    bad = {"number": "2172", "newnumber": "12ab"}
    assert pbx.api("extension/renumber", bad, token=token) == failed("10017")


def test_status_monitor_setting(pbx: PbxProcess, token: str) -> None:
    assert add(pbx, token, 2180) == OK
    answer = pbx.api("extension/statusmonitor/query", token=token)
    assert "2180" in answer["monitored"].split(",")
    body = {"number": "2180", "monitor": "off"}
    assert pbx.api("extension/statusmonitor/update", body, token=token) == OK
    answer = pbx.api("extension/statusmonitor/query", token=token)
    assert answer["unmonitored"] == "2180"
    body = {"number": "2180", "monitor": "maybe"}
    assert pbx.api("extension/statusmonitor/update", body, token=token) == failed("10017")
    body = {"number": "2999", "monitor": "on"}
    assert pbx.api("extension/statusmonitor/update", body, token=token) == failed("10006")
    body = {"number": "all", "monitor": True}
    assert pbx.api("extension/statusmonitor/update", body, token=token) == OK
    assert pbx.api("extension/statusmonitor/query", token=token)["unmonitored"] == ""


def test_number_plan_endpoints(pbx: PbxProcess, token: str) -> None:
    answer = pbx.api("numberplan/query", {"number": "1001"}, token=token)
    assert answer == {
        "status": "Success",
        "number": "1001",
        "inuse": "yes",
        "usedby": 'extension "Extension 1001" (1001)',
    }
    answer = pbx.api("numberplan/query", {"number": "*97"}, token=token)
    assert answer["usedby"] == 'feature code "voicemail" (*97)'
    answer = pbx.api("numberplan/query", {"number": "7777"}, token=token)
    assert (answer["inuse"], answer["usedby"]) == ("no", "")
    codes = pbx.api("numberplan/featurecodes", token=token)["featurecodes"]
    assert {"code": "*97", "function": "voicemail"} in codes


# -- events -----------------------------------------------------------------------------------


def test_config_change_events(pbx: PbxProcess, receiver: EventReceiver) -> None:
    token = pbx.login(port=receiver.port)
    try:
        assert add(pbx, token, 2190) == OK
        assert pbx.api("extension/update", {"number": "2190", "dnd": "on"}, token=token) == OK
        body = {"number": "2190", "newnumber": "2191"}
        assert pbx.api("extension/renumber", body, token=token) == OK
        assert pbx.api("extension/delete", {"number": "2191"}, token=token) == OK
        expected = [("2190", "add"), ("2190", "update"), ("2190", "del"), ("2191", "add")]
        expected.append(("2191", "del"))

        def changes(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
            mine = [e for e in events if e.get("extid") in {"2190", "2191"}]
            return [(e["extid"], e["operation"]) for e in mine]

        receiver.wait_for(lambda events: len(changes(events)) >= len(expected))
        assert changes(receiver.events) == expected
        event = receiver.named("ConfigChange")[0]
        assert set(event) == {"event", "type", "extid", "operation", "sn"}
        assert event["type"] == "extension"
    finally:
        pbx.api("logout", token=token)
