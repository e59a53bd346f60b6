"""extensiongroup/* against a running `kilopbx serve` (spec 22)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.config_helpers import OK, call, ext_body, failed, start_module_pbx
from tests.harness import PbxProcess


@pytest.fixture(scope="module")
def pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PbxProcess]:
    yield from start_module_pbx(tmp_path_factory, "groups")


@pytest.fixture(scope="module")
def token(pbx: PbxProcess) -> str:
    token = pbx.login()
    for number in range(2300, 2320):
        assert pbx.api("extension/add", ext_body(number), token=token) == OK
    return token


def add_group(pbx: PbxProcess, token: str, name: str, members: Any) -> dict[str, Any]:
    return pbx.api("extensiongroup/add", {"name": name, "members": members}, token=token)


def get_group(pbx: PbxProcess, token: str, group_id: str) -> dict[str, str]:
    answer = pbx.api("extensiongroup/query", {"id": group_id}, token=token)
    (group,) = answer["extgroupinfos"]
    return group


def test_add_and_query(pbx: PbxProcess, token: str) -> None:
    answer = add_group(pbx, token, "night-shift", "2310,2301,2302")
    assert set(answer) == {"status", "id"}
    assert answer["status"] == "Success"
    assert answer["id"].isdigit()
    group = get_group(pbx, token, answer["id"])
    assert group == {"id": answer["id"], "name": "night-shift", "members": "2301,2302,2310"}


def test_add_partial_success_reports_unknown_members(pbx: PbxProcess, token: str) -> None:
    answer = add_group(pbx, token, "sales-emea", "2303, 2304 ,2499,2304,2498")
    assert answer["errnum"] == answer["errornum"] == "2499,2498"
    assert get_group(pbx, token, answer["id"])["members"] == "2303,2304"
    answer = add_group(pbx, token, "nobody", "9999")
    assert answer["errnum"] == "9999"
    assert get_group(pbx, token, answer["id"])["members"] == ""


def test_add_accepts_a_number_as_member_list(pbx: PbxProcess, token: str) -> None:
    answer = add_group(pbx, token, 12345, 2305)
    group = get_group(pbx, token, answer["id"])
    assert (group["name"], group["members"]) == ("12345", "2305")


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x"},
        {"members": "2301"},
        {"name": "", "members": "1"},
        {"name": ["x"], "members": "2301"},
        {"name": "x", "members": {"a": 1}},
    ],
)
def test_add_missing_fields(pbx: PbxProcess, token: str, body: dict[str, Any]) -> None:
    assert pbx.api("extensiongroup/add", body, token=token) == failed("10004")


@pytest.mark.parametrize(
    "name",
    ["a,b", "semi;colon", 'quote"', "apos'", "back\\slash", "<b>", "x" * 64, "tab\tname"],
)
def test_add_invalid_name(pbx: PbxProcess, token: str, name: Any) -> None:
    answer, detail = call(pbx, token, "extensiongroup/add", {"name": name, "members": "2301"})
    assert answer == failed("10017")
    assert "name" in detail


def test_hostile_but_allowed_names_are_stored_verbatim(pbx: PbxProcess, token: str) -> None:
    for name in ("Ventes & Marketing", "日本 チーム", "DROP TABLE extension_group --"):
        answer = add_group(pbx, token, name, "2306")
        assert get_group(pbx, token, answer["id"])["name"] == name


def test_duplicate_name(pbx: PbxProcess, token: str) -> None:
    assert add_group(pbx, token, "dup", "2301")["status"] == "Success"
    answer, detail = call(pbx, token, "extensiongroup/add", {"name": "dup", "members": "2302"})
    assert answer == failed("10017")
    assert "dup" in detail
    assert add_group(pbx, token, "DUP", "2302")["status"] == "Success"  # case-sensitive


def test_update(pbx: PbxProcess, token: str) -> None:
    group_id = add_group(pbx, token, "upd", "2301,2302")["id"]
    body = {"id": int(group_id), "name": "upd-b", "members": "2311,2312,2301"}
    assert pbx.api("extensiongroup/update", body, token=token) == OK
    assert get_group(pbx, token, group_id) == {
        "id": group_id,
        "name": "upd-b",
        "members": "2301,2311,2312",
    }
    assert pbx.api("extensiongroup/update", {"id": group_id, "name": "upd-c"}, token=token) == OK
    assert get_group(pbx, token, group_id)["members"] == "2301,2311,2312"
    answer = pbx.api("extensiongroup/update", {"id": group_id, "members": "2313,2497"}, token=token)
    assert answer == {"status": "Success", "errnum": "2497", "errornum": "2497"}
    assert get_group(pbx, token, group_id)["members"] == "2313"
    assert pbx.api("extensiongroup/update", {"id": group_id, "members": ""}, token=token) == OK
    assert get_group(pbx, token, group_id)["members"] == ""


def test_update_errors(pbx: PbxProcess, token: str) -> None:
    group_id = add_group(pbx, token, "upd-err", "2301")["id"]
    add_group(pbx, token, "taken", "2301")
    assert pbx.api("extensiongroup/update", {"name": "x"}, token=token) == failed("10004")
    assert pbx.api("extensiongroup/update", {"id": "99999"}, token=token) == failed("10004")
    assert pbx.api("extensiongroup/update", {"id": "abc"}, token=token) == failed("10004")
    body = {"id": group_id, "name": "taken"}
    assert pbx.api("extensiongroup/update", body, token=token) == failed("10017")
    body = {"id": group_id, "name": "<bad>", "members": "2302"}
    assert pbx.api("extensiongroup/update", body, token=token) == failed("10017")
    assert get_group(pbx, token, group_id) == {"id": group_id, "name": "upd-err", "members": "2301"}


def test_query_selectors(pbx: PbxProcess, token: str) -> None:
    first = add_group(pbx, token, "q1", "2301")["id"]
    second = add_group(pbx, token, "q2", "2302")["id"]
    answer = pbx.api("extensiongroup/query", {"id": f"{second},{first},99999,x"}, token=token)
    assert [g["id"] for g in answer["extgroupinfos"]] == [first, second]
    answer = pbx.api("extensiongroup/query", {"id": "99999"}, token=token)
    assert answer == {"status": "Success", "extgroupinfos": []}
    everything = pbx.api("extensiongroup/query", {"id": "all"}, token=token)["extgroupinfos"]
    ids = [int(g["id"]) for g in everything]
    assert ids == sorted(ids)
    assert pbx.api("extensiongroup/query", {"id": ""}, token=token) == failed("10004")
    assert pbx.api("extensiongroup/query", {}, token=token) == failed("20007")


def test_delete_and_ids_are_not_reused(pbx: PbxProcess, token: str) -> None:
    first = add_group(pbx, token, "d1", "2301")["id"]
    second = add_group(pbx, token, "d2", "2301")["id"]
    assert pbx.api("extensiongroup/delete", {"id": f"{first},{second},99999"}, token=token) == OK
    answer = pbx.api("extensiongroup/query", {"id": f"{first},{second}"}, token=token)
    assert answer["extgroupinfos"] == []
    assert pbx.api("extensiongroup/delete", {"id": "99999"}, token=token) == OK
    assert pbx.api("extensiongroup/delete", {"id": ""}, token=token) == failed("10004")
    third = add_group(pbx, token, "d3", "2301")["id"]
    assert int(third) > int(second)
    # members are untouched by a group deletion
    assert pbx.api("extension/query", {"number": "2301"}, token=token)["status"] == "Success"


def test_deleting_an_extension_removes_it_from_every_group(pbx: PbxProcess, token: str) -> None:
    assert pbx.api("extension/add", ext_body(2390), token=token) == OK
    ids = [add_group(pbx, token, f"member-{i}", "2390,2301")["id"] for i in range(3)]
    assert pbx.api("extension/delete", {"number": "2390"}, token=token) == OK
    for group_id in ids:
        assert get_group(pbx, token, group_id)["members"] == "2301"
    # a new extension with the old number does not inherit the memberships
    assert pbx.api("extension/add", ext_body(2390), token=token) == OK
    assert get_group(pbx, token, ids[0])["members"] == "2301"


def test_concurrent_updates_of_one_group(pbx: PbxProcess, token: str) -> None:
    group_id = add_group(pbx, token, "race", "2301")["id"]
    lists = [f"230{i},231{i}" for i in range(8)]
    answers: list[dict[str, Any]] = []

    def send(members: str) -> None:
        body = {"id": group_id, "members": members}
        answers.append(pbx.api("extensiongroup/update", body, token=token))

    threads = [threading.Thread(target=send, args=(m,)) for m in lists]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert answers == [OK] * len(lists)
    assert get_group(pbx, token, group_id)["members"] in lists  # one whole list, not a mix


def test_concurrent_adds_with_one_name(pbx: PbxProcess, token: str) -> None:
    answers: list[dict[str, Any]] = []
    threads = [
        threading.Thread(target=lambda: answers.append(add_group(pbx, token, "same", "2301")))
        for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [a["status"] for a in answers].count("Success") == 1


def test_group_add_racing_an_extension_delete(pbx: PbxProcess, token: str) -> None:
    """Either order is fine; what must not happen is an internal error or a group that
    names an extension that no longer exists."""
    for attempt in range(5):
        number = str(2380 + attempt)
        assert pbx.api("extension/add", ext_body(number), token=token) == OK
        answers: dict[str, dict[str, Any]] = {}
        delete_body = {"number": number}
        group_body = {"name": f"race-del-{attempt}", "members": f"{number},2301"}
        threads = [
            threading.Thread(
                target=store_answer,
                args=(answers, "delete", pbx, token, "extension/delete", delete_body),
            ),
            threading.Thread(
                target=store_answer,
                args=(answers, "add", pbx, token, "extensiongroup/add", group_body),
            ),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert answers["delete"] == OK
        assert answers["add"]["status"] == "Success"
        assert get_group(pbx, token, answers["add"]["id"])["members"] == "2301"


def store_answer(
    answers: dict[str, Any], key: str, pbx: PbxProcess, token: str, endpoint: str, body: Any
) -> None:
    answers[key] = pbx.api(endpoint, body, token=token)


def test_restart_keeps_groups(pbx: PbxProcess, token: str) -> None:
    before = pbx.api("extensiongroup/query", {"id": "all"}, token=token)
    pbx.restart()
    token = pbx.login()
    assert pbx.api("extensiongroup/query", {"id": "all"}, token=token) == before


def test_delete_all(pbx: PbxProcess) -> None:
    token = pbx.login()
    assert pbx.api("extensiongroup/delete", {"id": "ALL"}, token=token) == OK
    assert pbx.api("extensiongroup/query", {"id": "all"}, token=token)["extgroupinfos"] == []
    pbx.restart()
    token = pbx.login()
    # the default group is not created again
    assert pbx.api("extensiongroup/query", {"id": "all"}, token=token)["extgroupinfos"] == []
