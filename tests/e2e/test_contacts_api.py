"""companycontacts/* against a running `kilopbx serve` (spec 20 and the KiloPBX
extension companycontacts/search)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.config_helpers import OK, call, failed, start_module_pbx
from tests.harness import PbxProcess

CONTACT_KEYS = [
    "id", "firstname", "lastname", "company", "email", "businessnum", "businessnum2",
    "mobile", "mobile2", "homenum", "homenum2", "businessfax", "homefax", "othernum",
    "zipcode", "street", "city", "state", "country",
]  # fmt: skip


@pytest.fixture(scope="module")
def pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PbxProcess]:
    yield from start_module_pbx(tmp_path_factory, "contacts")


@pytest.fixture(scope="module")
def token(pbx: PbxProcess) -> str:
    return pbx.login()


def add(pbx: PbxProcess, token: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"firstname": "Priya", "lastname": "Nair", "mobile": "07911223344"}
    body.update(fields)
    return pbx.api("companycontacts/add", body, token=token)


def get(pbx: PbxProcess, token: str, contact_id: str) -> dict[str, str]:
    (contact,) = pbx.api("companycontacts/query", {"id": contact_id}, token=token)[
        "companycontacts"
    ]
    return contact


def test_fresh_directory_is_empty(pbx: PbxProcess, token: str) -> None:
    answer = pbx.api("companycontacts/query", {"id": "all"}, token=token)
    assert answer == {"status": "Success", "companycontacts": []}


def test_add_and_query_wire_shape(pbx: PbxProcess, token: str) -> None:
    answer = add(pbx, token, company="Northwind Clinic", city="Leeds")
    assert set(answer) == {"status", "id"}
    contact = get(pbx, token, answer["id"])
    assert list(contact) == CONTACT_KEYS
    assert contact["id"] == answer["id"]
    assert (contact["firstname"], contact["lastname"]) == ("Priya", "Nair")
    assert (contact["company"], contact["city"], contact["mobile"]) == (
        "Northwind Clinic",
        "Leeds",
        "07911223344",
    )
    assert contact["homefax"] == ""


def test_numbers_as_json_numbers(pbx: PbxProcess, token: str) -> None:
    answer = add(pbx, token, mobile=None, businessnum=215550147, zipcode=4051)
    contact = get(pbx, token, answer["id"])
    assert (contact["businessnum"], contact["zipcode"], contact["mobile"]) == (
        "215550147",
        "4051",
        "",
    )


def test_any_one_number_is_enough(pbx: PbxProcess, token: str) -> None:
    for field in ("businessnum2", "mobile2", "homenum", "homenum2", "businessfax", "othernum"):
        answer = add(pbx, token, mobile="", **{field: "+44 (20) 7946-0000 #12*"})
        assert answer["status"] == "Success", field


@pytest.mark.parametrize(
    "fields",
    [
        {"firstname": ""},
        {"lastname": None},
        {"mobile": ""},
        {"firstname": "   "},
    ],
)
def test_add_missing(pbx: PbxProcess, token: str, fields: dict[str, Any]) -> None:
    assert add(pbx, token, **fields) == failed("10004")


def test_add_without_any_field(pbx: PbxProcess, token: str) -> None:
    body = {"firstname": "A", "lastname": "B"}
    assert pbx.api("companycontacts/add", body, token=token) == failed("10004")
    assert pbx.api("companycontacts/add", {}, token=token) == failed("20007")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mobile", "0791abc"),
        ("mobile", "1" * 32),
        ("homenum", "<script>"),
        ("email", "not-an-email"),
        ("email", "two@@example.com"),
        ("firstname", "x" * 128),
        ("company", "bell\x07"),
        ("city", ["Leeds"]),
        ("street", {"n": 1}),
        ("country", True),
    ],
)
def test_add_invalid(pbx: PbxProcess, token: str, field: str, value: Any) -> None:
    answer, detail = call(
        pbx,
        token,
        "companycontacts/add",
        {"firstname": "A", "lastname": "B", "mobile": "1", field: value},
    )
    assert answer == failed("10004")
    assert field in detail


def test_hostile_text_is_stored_verbatim(pbx: PbxProcess, token: str) -> None:
    fields = {
        "firstname": 'Seán "Jack" O\'Brien',
        "lastname": "<b>Müller</b> 日本",
        "company": "Robert'); DROP TABLE company_contact;--",
        "street": "12 Quay Road & \\Annex",
    }
    contact = get(pbx, token, add(pbx, token, **fields)["id"])
    for key, value in fields.items():
        assert contact[key] == value
    assert pbx.api("companycontacts/query", {"id": "all"}, token=token)["status"] == "Success"


def test_update(pbx: PbxProcess, token: str) -> None:
    contact_id = add(pbx, token, email="p@example.com")["id"]
    body = {"id": int(contact_id), "email": "p.nair@northwind.example", "mobile2": 7922000111}
    assert pbx.api("companycontacts/update", body, token=token) == OK
    contact = get(pbx, token, contact_id)
    assert (contact["email"], contact["mobile2"], contact["firstname"]) == (
        "p.nair@northwind.example",
        "7922000111",
        "Priya",
    )
    # clearing with "" works while another number remains
    assert pbx.api("companycontacts/update", {"id": contact_id, "mobile": ""}, token=token) == OK
    assert get(pbx, token, contact_id)["mobile"] == ""


def test_update_errors_change_nothing(pbx: PbxProcess, token: str) -> None:
    contact_id = add(pbx, token)["id"]
    before = get(pbx, token, contact_id)
    for body in (
        {"id": contact_id, "firstname": ""},
        {"id": contact_id, "mobile": ""},
        {"id": contact_id, "company": "ok", "email": "bad"},
        {"id": "99999", "company": "x"},
        {"id": f"{contact_id},{int(contact_id) - 1}", "company": "x"},
        {"id": "all", "company": "x"},
        {"id": "abc"},
        {"company": "x"},
    ):
        assert pbx.api("companycontacts/update", body, token=token) == failed("10004"), body
    assert get(pbx, token, contact_id) == before


def test_query_selectors(pbx: PbxProcess, token: str) -> None:
    first = add(pbx, token)["id"]
    second = add(pbx, token)["id"]
    answer = pbx.api("companycontacts/query", {"id": f"{second},{first},99999"}, token=token)
    assert [c["id"] for c in answer["companycontacts"]] == [first, second]
    assert pbx.api("companycontacts/query", {"id": "99999"}, token=token)["companycontacts"] == []
    assert pbx.api("companycontacts/query", {"id": "1,x"}, token=token) == failed("10004")
    assert pbx.api("companycontacts/query", {"id": ""}, token=token) == failed("10004")
    everything = pbx.api("companycontacts/query", {"id": "all"}, token=token)["companycontacts"]
    ids = [int(c["id"]) for c in everything]
    assert ids == sorted(ids)


def test_delete_and_ids_are_not_reused(pbx: PbxProcess, token: str) -> None:
    first = add(pbx, token)["id"]
    second = add(pbx, token)["id"]
    assert pbx.api("companycontacts/delete", {"id": f"{first},{second},99999"}, token=token) == OK
    answer = pbx.api("companycontacts/query", {"id": f"{first},{second}"}, token=token)
    assert answer["companycontacts"] == []
    assert pbx.api("companycontacts/delete", {"id": "99999"}, token=token) == OK
    assert pbx.api("companycontacts/delete", {"id": ""}, token=token) == failed("10004")
    assert int(add(pbx, token)["id"]) > int(second)


def test_search(pbx: PbxProcess, token: str) -> None:
    add(pbx, token, firstname="Lena", lastname="Okafor", businessnum="021 999 0147")
    add(pbx, token, firstname="Tomas", lastname="Reyes", company="Harbor 100%_Logistics")
    search = "companycontacts/search"
    found = pbx.api(search, {"keyword": "okaf"}, token=token)["companycontacts"]
    assert [c["lastname"] for c in found] == ["Okafor"]
    found = pbx.api(search, {"keyword": "9990147"}, token=token)["companycontacts"]
    assert [c["lastname"] for c in found] == ["Okafor"]
    found = pbx.api(search, {"keyword": "100%_"}, token=token)["companycontacts"]
    assert [c["lastname"] for c in found] == ["Reyes"]
    # LIKE wildcards in the keyword are plain characters
    assert pbx.api(search, {"keyword": "%%"}, token=token)["companycontacts"] == []
    assert pbx.api(search, {"keyword": "Ok_for"}, token=token)["companycontacts"] == []
    assert pbx.api(search, {"keyword": ""}, token=token) == failed("10004")


def test_concurrent_updates_lose_nothing(pbx: PbxProcess, token: str) -> None:
    contact_id = add(pbx, token)["id"]
    changes = [
        {"company": "C"},
        {"city": "Basel"},
        {"state": "BS"},
        {"country": "Switzerland"},
        {"homenum": "123"},
        {"street": "12 Quay Road"},
    ]
    answers: list[dict[str, Any]] = []

    def send(fields: dict[str, str]) -> None:
        body = {"id": contact_id, **fields}
        answers.append(pbx.api("companycontacts/update", body, token=token))

    threads = [threading.Thread(target=send, args=(c,)) for c in changes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert answers == [OK] * len(changes)
    contact = get(pbx, token, contact_id)
    for fields in changes:
        for key, value in fields.items():
            assert contact[key] == value


def test_restart_keeps_contacts_and_delete_all(pbx: PbxProcess, token: str) -> None:
    before = pbx.api("companycontacts/query", {"id": "all"}, token=token)
    assert before["companycontacts"]
    pbx.restart()
    token = pbx.login()
    assert pbx.api("companycontacts/query", {"id": "all"}, token=token) == before
    assert pbx.api("companycontacts/delete", {"id": "all"}, token=token) == OK
    assert pbx.api("companycontacts/query", {"id": "all"}, token=token)["companycontacts"] == []
