"""extension/* against a running `kilopbx serve` (spec 21): add, query, list, update, delete.

One PBX serves the whole module; each test uses its own extension numbers. Tests that
need an empty or full PBX run last, in file order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from kilopbx.api.system_endpoints import MAX_EXTENSIONS
from kilopbx.apps.extensions.passwords import SIP_PASSWORD_MIN, md5_hex, weakness
from tests.e2e.config_helpers import (
    GOOD_PASSWORD,
    OK,
    call,
    ext_body,
    failed,
    start_module_pbx,
)
from tests.e2e.config_helpers import add_extension as add
from tests.e2e.config_helpers import query_extension as query_one
from tests.e2e.reference_helpers import NOTHING_LEFT, refer_to_extensions, references_left
from tests.e2e.sip_traffic import MiniPhone
from tests.harness import PbxProcess

SPEC_KEYS = [
    "number", "username", "status", "type", "callerid", "registername", "registerpassword",
    "maxregistrations", "loginpassword", "email", "mobile", "language", "hasvoicemail",
    "vmsecret", "enablevmtoemail", "alwaysforward", "atransferto", "atransferext",
    "atransferprefix", "atransfernum", "noanswerforward", "ntransferto", "ntransferext",
    "ntransferprefix", "ntransfernum", "busyforward", "btransferto", "btransferext",
    "btransferprefix", "btransfernum", "enablemobile", "ringsimultaneous", "mobileprefix",
    "allowbeingmonitored", "monitormode", "ringtimeout", "maxduration", "dnd",
    "callrestriction", "agentid",
]  # fmt: skip


@pytest.fixture(scope="module")
def pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PbxProcess]:
    yield from start_module_pbx(tmp_path_factory, "extensions")


@pytest.fixture(scope="module")
def token(pbx: PbxProcess) -> str:
    return pbx.login()


# -- first start ----------------------------------------------------------------------------


def test_fresh_install_has_default_extensions_and_group(pbx: PbxProcess, token: str) -> None:
    listed = pbx.api("extension/list", token=token)["extlist"]
    assert [e["number"] for e in listed] == ["1000", "1001", "1002", "1003"]
    for number in ("1000", "1001", "1002", "1003"):
        info = query_one(pbx, token, number)
        password = info["registerpassword"]
        assert weakness(password, min_length=SIP_PASSWORD_MIN, number=number, username="") is None
        assert len(info["loginpassword"]) == 32
    groups = pbx.api("extensiongroup/query", {"id": "all"}, token=token)["extgroupinfos"]
    assert {"id": "1", "name": "All staff", "members": "1000,1001,1002,1003"} in groups
    info = pbx.api("deviceinfo/query", token=token)["deviceinfo"]
    assert info["extensionstatus"] == f"4/{MAX_EXTENSIONS}"


# -- add / query ------------------------------------------------------------------------------


def test_add_spec_example_and_query_wire_shape(pbx: PbxProcess, token: str) -> None:
    body = {
        "number": "2104",
        "username": "Mei Chen",
        "registername": "mchen2104",
        "registerpassword": "Hx8rWq2nLb5tGy7K",
        "email": "mei.chen@acme.example",
        "maxregistrations": "3",
        "mobile": "447700900123",
        "noanswerforward": "on",
        "ntransferto": "Mobile Number",
        "ntransferprefix": "9",
    }
    assert pbx.api("extension/add", body, token=token) == OK
    info = query_one(pbx, token, "2104")
    assert list(info) == SPEC_KEYS
    assert all(isinstance(v, str) for v in info.values())
    assert info["status"] == "Unavailable"
    assert info["type"] == "SIP"
    assert info["callerid"] == "2104"
    assert info["vmsecret"] == "2104"
    assert info["maxregistrations"] == "3"
    assert info["ntransferto"] == "Mobile Number"
    assert info["ntransferprefix"] == "9"
    assert info["language"] == "System Default"
    assert (info["hasvoicemail"], info["noanswerforward"], info["busyforward"]) == ("on",) * 3
    assert (info["atransferto"], info["btransferto"]) == ("Voicemail", "Voicemail")
    assert (info["monitormode"], info["ringtimeout"]) == ("Disabled", "30")
    assert (info["maxduration"], info["dnd"], info["agentid"]) == ("Follow System", "off", "")


def test_add_accepts_json_numbers_and_booleans(pbx: PbxProcess, token: str) -> None:
    body = ext_body(2105, maxregistrations=5, mobile=447700900124, ringtimeout=60)
    body.update(number=2105, dnd=True, hasvoicemail=False, maxduration=600, agentid=77)
    assert pbx.api("extension/add", body, token=token) == OK
    info = query_one(pbx, token, "2105")
    assert info["maxregistrations"] == "5"
    assert info["mobile"] == "447700900124"
    assert (info["ringtimeout"], info["maxduration"], info["agentid"]) == ("60", "600", "77")
    assert (info["dnd"], info["hasvoicemail"]) == ("on", "off")


def test_add_ignores_unknown_and_read_only_fields(pbx: PbxProcess, token: str) -> None:
    body = ext_body(2109, foo=[1, 2], status="Busy", type="FXS", language="French")
    body.update(extnumber="2999", loginpassword="")
    assert pbx.api("extension/add", body, token=token) == OK
    info = query_one(pbx, token, "2109")
    assert (info["status"], info["type"], info["language"]) == (
        "Unavailable",
        "SIP",
        "System Default",
    )
    assert len(info["loginpassword"]) == 32  # a random one was made


def test_add_unicode_display_name(pbx: PbxProcess, token: str) -> None:
    assert add(pbx, token, 2106, username="José Müller 日本") == OK
    assert query_one(pbx, token, "2106")["username"] == "José Müller 日本"


@pytest.mark.parametrize("field", ["number", "username", "registername", "registerpassword"])
@pytest.mark.parametrize("value", ["missing", "", "   ", None, ["x"]])
def test_add_missing_required_field(pbx: PbxProcess, token: str, field: str, value: Any) -> None:
    body = ext_body(2107)
    if value == "missing":
        del body[field]
    else:
        body[field] = value
    assert pbx.api("extension/add", body, token=token) == failed("10004")
    assert pbx.api("extension/query", {"number": "2107"}, token=token) == failed("10006")


def test_add_empty_body(pbx: PbxProcess, token: str) -> None:
    assert pbx.api("extension/add", {}, token=token) == failed("20007")


INVALID_ADDS = [
    ("number", "12a"),
    ("number", "12345678"),
    ("number", "-123"),
    ("number", "２１０８"),  # full-width digits
    ("username", "<script>alert(1)</script>"),
    ("username", "O'Brien"),
    ("username", 'say "hi"'),
    ("username", "x'; DROP TABLE extension; --"),
    ("username", "a" * 64),
    ("username", "x" * 100_000),
    ("username", "tab\there"),
    ("email", ["list@example.com"]),
    ("dnd", {"o": 1}),
    ("registername", "bad name"),
    ("registername", "r" * 32),
    ("registername", "ünïcode"),
    ("registerpassword", "Sh0rtPass"),
    ("registerpassword", "alllowercase9876x"),
    ("registerpassword", "ALLUPPERCASE9X6Y2"),
    ("registerpassword", "NoDigitsAtAllHereX"),
    ("registerpassword", "Tq7wLp123VzbKd4Mx"),  # consecutive digits
    ("registerpassword", "Tq7wLp2108VzbKd4M"),  # contains the number
    ("registerpassword", "Tq7wLp3xVz9bK<4M>"),
    ("maxregistrations", "0"),
    ("maxregistrations", 6),
    ("maxregistrations", "two"),
    ("maxregistrations", 2.5),
    ("loginpassword", "weak"),
    ("email", "no-at-sign"),
    ("email", "a b@example.com"),
    ("email", "a<b>@example.com"),
    ("mobile", "12ab"),
    ("mobile", "1" * 32),
    ("vmsecret", "12a4"),
    ("hasvoicemail", "maybe"),
    ("enablevmtoemail", "sometimes"),
    ("atransferto", "Nowhere"),
    ("atransferprefix", "12345678"),
    ("atransfernum", "1" * 16),
    ("monitormode", "Spy"),
    ("ringtimeout", 4),
    ("ringtimeout", "301"),
    ("maxduration", "-5"),
    ("maxduration", "forever"),
    ("callerid", "not allowed!"),
    ("agentid", "<7>"),
]


@pytest.mark.parametrize(("field", "value"), INVALID_ADDS)
def test_add_invalid_value(pbx: PbxProcess, token: str, field: str, value: Any) -> None:
    body = ext_body(2108)
    body[field] = value
    answer, detail = call(pbx, token, "extension/add", body)
    assert answer == failed("10017")
    assert detail.startswith(field) or field in detail
    assert pbx.api("extension/query", {"number": "2108"}, token=token)["status"] == "Failed"


def test_add_taken_number_names_holder(pbx: PbxProcess, token: str) -> None:
    assert add(pbx, token, 2110, username="Ana Costa") == OK
    answer, detail = call(pbx, token, "extension/add", ext_body(2110, registername="other2110"))
    assert answer == failed("10017")
    assert detail == 'number 2110 is used by extension "Ana Costa" (2110)'
    answer, detail = call(pbx, token, "extension/add", ext_body(2111, registername="reg2110"))
    assert answer == failed("10017")
    assert "registername" in detail


def test_forwarding_rules(pbx: PbxProcess, token: str) -> None:
    assert add(pbx, token, 2120) == OK
    bad = [
        {"btransferto": "Extension"},
        {"btransferto": "Extension", "btransferext": "2999"},
        {"btransferto": "Extension", "btransferext": "2121"},  # itself
        {"atransferto": "Custom Number"},
        {"ntransferto": "Mobile Number"},
        {"enablemobile": "on"},
        {"enablevmtoemail": "on"},
    ]
    for fields in bad:
        assert add(pbx, token, 2121, **fields) == failed("10017"), fields
    good = {"busyforward": "on", "btransferto": "extension", "btransferext": 2120}
    assert add(pbx, token, 2121, **good, atransferto="Custom Number", atransfernum="0044") == OK
    info = query_one(pbx, token, "2121")
    assert (info["btransferto"], info["btransferext"]) == ("Extension", "2120")
    assert (info["atransferto"], info["atransfernum"]) == ("Custom Number", "0044")


# -- update -----------------------------------------------------------------------------------


def test_update_partial(pbx: PbxProcess, token: str) -> None:
    assert add(pbx, token, 2130) == OK
    assert add(pbx, token, 2131) == OK
    change = {"number": "2131", "dnd": "on", "busyforward": "on", "btransferto": "Extension"}
    change["btransferext"] = "2130"
    assert pbx.api("extension/update", change, token=token) == OK
    info = query_one(pbx, token, "2131")
    assert (info["dnd"], info["btransferto"], info["btransferext"]) == ("on", "Extension", "2130")
    assert info["username"] == "User 2131"
    assert pbx.api("extension/update", {"number": 2131, "ringtimeout": 120}, token=token) == OK
    assert query_one(pbx, token, "2131")["ringtimeout"] == "120"


def test_update_is_atomic(pbx: PbxProcess, token: str) -> None:
    assert add(pbx, token, 2132) == OK
    before = query_one(pbx, token, "2132")
    change = {"number": "2132", "username": "Changed", "maxregistrations": "9"}
    assert pbx.api("extension/update", change, token=token) == failed("10017")
    change = {"number": "2132", "username": "Changed", "alwaysforward": "on"}
    change["atransferto"] = "Custom Number"
    assert pbx.api("extension/update", change, token=token) == failed("10017")
    assert query_one(pbx, token, "2132") == before


def test_update_errors(pbx: PbxProcess, token: str) -> None:
    assert pbx.api("extension/update", {"dnd": "on"}, token=token) == failed("10004")
    assert pbx.api("extension/update", {"number": ""}, token=token) == failed("10004")
    assert pbx.api("extension/update", {"number": "2999"}, token=token) == failed("10006")
    assert pbx.api("extension/update", {"number": "1000,1001"}, token=token) == failed("10006")
    sql = {"number": "1000' OR '1'='1"}
    assert pbx.api("extension/update", sql, token=token) == failed("10006")


def test_login_password_is_returned_as_md5(pbx: PbxProcess, token: str) -> None:
    assert add(pbx, token, 2133, loginpassword="Wq8eRt4yUz") == OK
    info = query_one(pbx, token, "2133")
    assert info["loginpassword"] == md5_hex("Wq8eRt4yUz")
    # writing the whole object back (digest included) is accepted and changes nothing
    body = {k: v for k, v in info.items() if k not in {"status", "type", "language"}}
    assert pbx.api("extension/update", body, token=token) == OK
    assert query_one(pbx, token, "2133") == info
    body = {"number": "2133", "loginpassword": "Zx9cVb7nMq"}
    assert pbx.api("extension/update", body, token=token) == OK
    assert query_one(pbx, token, "2133")["loginpassword"] == md5_hex("Zx9cVb7nMq")
    body = {"number": "2133", "loginpassword": "short1A"}
    assert pbx.api("extension/update", body, token=token) == failed("10017")


def test_update_registername_must_stay_unique(pbx: PbxProcess, token: str) -> None:
    assert add(pbx, token, 2134) == OK
    body = {"number": "2134", "registername": "1000"}
    assert pbx.api("extension/update", body, token=token) == failed("10017")
    body = {"number": "2134", "registername": "reg2134"}  # its own
    assert pbx.api("extension/update", body, token=token) == OK


# -- list / query selectors -----------------------------------------------------------------


def test_list_is_in_numeric_order_with_live_status(pbx: PbxProcess, token: str) -> None:
    assert add(pbx, token, 99) == OK
    listed = pbx.api("extension/list", {}, token=token)["extlist"]
    numbers = [e["number"] for e in listed]
    assert numbers == sorted(numbers, key=int)
    assert numbers[0] == "99"
    entry = listed[0]
    assert entry == {
        "number": "99",
        "status": "Unavailable",
        "type": "SIP",
        "username": "User 99",
        "agentid": "",
    }
    assert pbx.api("extension/list", token=token)["status"] == "Success"  # no body at all


def listed_raw(pbx: PbxProcess, token: str) -> list[dict[str, str]]:
    """extension/list's entries, after checking the answer is the API's plain JSON."""
    status, headers, raw = pbx.http(f"/api/v2.0.0/extension/list?token={token}", body=b"{}")
    assert status == 200 and headers["Content-Type"] == "application/json"
    answer = json.loads(raw)
    assert raw == json.dumps(answer, separators=(",", ":")).encode()  # byte for byte
    assert answer["status"] == "Success"
    return list(answer["extlist"])


def test_list_follows_every_change(pbx: PbxProcess, token: str) -> None:
    """The list keeps rendered entries between changes: each API write, and each
    registration coming and going, shows in the very next list."""
    mine = {"2180", "2181", "2182", "2183"}

    def listed() -> list[str]:
        entries = [e for e in listed_raw(pbx, token) if e["number"] in mine]
        for entry in entries:  # the list agrees with extension/query's own rendering
            info = query_one(pbx, token, entry["number"])
            assert {k: info[k] for k in entry} == entry
        return [" ".join(e.values()) for e in entries]

    assert listed() == []
    assert add(pbx, token, 2181) == OK
    assert add(pbx, token, 2180, agentid="12") == OK
    assert listed() == ["2180 Unavailable SIP User 2180 12", "2181 Unavailable SIP User 2181 "]
    body = {"number": "2180", "username": "Ana Costa", "agentid": ""}
    assert pbx.api("extension/update", body, token=token) == OK
    assert pbx.api("extension/update", {"number": "2181", "agentid": "7"}, token=token) == OK
    assert listed() == ["2180 Unavailable SIP Ana Costa ", "2181 Unavailable SIP User 2181 7"]
    body = {"number": "2181", "newnumber": "2183"}
    assert pbx.api("extension/renumber", body, token=token) == OK
    assert listed() == ["2180 Unavailable SIP Ana Costa ", "2183 Unavailable SIP User 2181 7"]
    for endpoint, fields in (
        ("extension/statusmonitor/update", {"monitor": "off"}),
        ("extension/callwaiting/update", {"callwaiting": "on"}),
        ("extension/privacy/update", {"hidenumber": "on"}),
        ("extension/pickupgroup/update", {"pickupgroup": "desk"}),
    ):
        assert pbx.api(endpoint, {"number": "2180,2183", **fields}, token=token) == OK
    assert listed() == ["2180 Unavailable SIP Ana Costa ", "2183 Unavailable SIP User 2181 7"]

    phone = MiniPhone(pbx.sip_port)
    try:
        assert phone.register("2180", "reg2180", GOOD_PASSWORD) == 200
        assert listed() == ["2180 Registered SIP Ana Costa ", "2183 Unavailable SIP User 2181 7"]
        phone.expires = 0
        assert phone.register("2180", "reg2180", GOOD_PASSWORD) == 200
        assert listed() == ["2180 Unavailable SIP Ana Costa ", "2183 Unavailable SIP User 2181 7"]
    finally:
        phone.close()

    assert pbx.api("extension/delete", {"number": "2183"}, token=token) == OK
    assert listed() == ["2180 Unavailable SIP Ana Costa "]
    assert add(pbx, token, 2182) == OK
    assert pbx.api("extension/delete", {"number": "2180,2182"}, token=token) == OK
    assert listed() == []


def test_list_has_the_headers_of_every_answer(pbx: PbxProcess, token: str) -> None:
    """The list's pre-rendered body goes out with the same headers as a dict answer."""
    origin = {"Origin": "https://app.example"}
    seen = []
    for endpoint in ("extension/list", "heartbeat"):
        path = f"/api/v2.0.0/{endpoint}?token={token}"
        status, headers, _raw = pbx.http(path, body=b"{}", headers=origin)
        assert status == 200
        seen.append({k: v for k, v in headers.items() if k not in ("Content-Length", "Date")})
    assert seen[0] == seen[1]
    assert seen[0]["Access-Control-Allow-Origin"] == "https://app.example"
    assert seen[0]["Connection"] == "close"


def test_list_bad_requests(pbx: PbxProcess, token: str) -> None:
    assert pbx.api("extension/list", {}) == failed("20005")
    assert pbx.api("extension/list", {}, token="0" * 32) == failed("20004")
    assert pbx.api("extension/list", token=token, raw=b"{not json") == failed("20000")
    assert pbx.api("extension/list", token=token, raw=b"<list/>") == failed("10002")
    assert pbx.api("extension/list", token=token, method="GET") == failed("20001")


def test_query_selectors(pbx: PbxProcess, token: str) -> None:
    assert add(pbx, token, 2150) == OK
    assert add(pbx, token, 2151) == OK
    answer = pbx.api("extension/query", {"number": "2151,2999,2150"}, token=token)
    assert [i["number"] for i in answer["extinfos"]] == ["2150", "2151"]
    answer = pbx.api("extension/query", {"number": " 2150 , 2150 "}, token=token)
    assert [i["number"] for i in answer["extinfos"]] == ["2150"]
    assert pbx.api("extension/query", {"number": 2150}, token=token)["status"] == "Success"
    assert pbx.api("extension/query", {"number": "2999"}, token=token) == failed("10006")
    assert pbx.api("extension/query", {"number": "2998,2999"}, token=token) == failed("10006")
    assert pbx.api("extension/query", {"number": ""}, token=token) == failed("10004")
    everything = pbx.api("extension/query", {"number": "ALL"}, token=token)["extinfos"]
    omitted = pbx.api("extension/query", {}, token=token)["extinfos"]
    assert everything == omitted
    assert {"2150", "2151", "1000"} <= {i["number"] for i in everything}


# -- delete -----------------------------------------------------------------------------------


def test_delete_cleans_up_groups_and_forwards(pbx: PbxProcess, token: str) -> None:
    for number in (2160, 2161, 2162):
        assert add(pbx, token, number) == OK
    fwd = {"number": "2161", "alwaysforward": "on", "atransferto": "Extension"}
    assert pbx.api("extension/update", {**fwd, "atransferext": "2160"}, token=token) == OK
    group = pbx.api("extensiongroup/add", {"name": "del-test", "members": "2160,2162"}, token=token)
    assert pbx.api("extension/delete", {"number": "2160,2999"}, token=token) == OK
    assert pbx.api("extension/query", {"number": "2160"}, token=token) == failed("10006")
    info = query_one(pbx, token, "2161")
    assert (info["atransferto"], info["atransferext"]) == ("Voicemail", "")
    groups = pbx.api("extensiongroup/query", {"id": group["id"]}, token=token)
    assert groups["extgroupinfos"][0]["members"] == "2162"


def test_delete_errors(pbx: PbxProcess, token: str) -> None:
    assert pbx.api("extension/delete", {"number": "2999"}, token=token) == failed("10006")
    assert pbx.api("extension/delete", {"number": "2998,2999"}, token=token) == failed("10006")
    assert pbx.api("extension/delete", {"number": ""}, token=token) == failed("10004")
    assert pbx.api("extension/delete", {"other": "x"}, token=token) == failed("10004")


# -- restart, emptiness, capacity (order matters from here on) ------------------------------------


def test_restart_keeps_everything(pbx: PbxProcess, token: str) -> None:
    assert add(pbx, token, 2200, email="keep@example.com", mobile="55501", dnd="on") == OK
    before = pbx.api("extension/query", {"number": "all"}, token=token)
    groups = pbx.api("extensiongroup/query", {"id": "all"}, token=token)
    monitor = {"number": "2200", "monitor": "off"}
    assert pbx.api("extension/statusmonitor/update", monitor, token=token) == OK
    pbx.restart()
    fresh = pbx.login()
    assert pbx.api("extension/query", {"number": "all"}, token=fresh) == before
    assert pbx.api("extensiongroup/query", {"id": "all"}, token=fresh) == groups
    answer = pbx.api("extension/statusmonitor/query", token=fresh)
    assert answer["unmonitored"] == "2200"
    # the defaults are not created again
    listed = [e["number"] for e in pbx.api("extension/list", token=fresh)["extlist"]]
    assert listed.count("1000") == 1


def test_deleted_defaults_stay_deleted_after_restart(pbx: PbxProcess) -> None:
    token = pbx.login()
    assert pbx.api("extension/delete", {"number": "all"}, token=token) == OK
    assert pbx.api("extension/list", token=token)["extlist"] == []
    pbx.restart()
    token = pbx.login()
    assert pbx.api("extension/list", token=token)["extlist"] == []
    assert pbx.api("extension/delete", {"number": "all"}, token=token) == OK


def test_capacity_limit(pbx: PbxProcess) -> None:
    """Last test of the module: leaves the PBX full."""
    token = pbx.login()
    existing = len(pbx.api("extension/list", token=token)["extlist"])
    for index in range(MAX_EXTENSIONS - existing):
        assert add(pbx, token, 5000 + index) == OK
    answer, detail = call(pbx, token, "extension/add", ext_body(7100))
    assert answer == failed("10017")
    assert "capacity" in detail
    info = pbx.api("deviceinfo/query", token=token)["deviceinfo"]
    assert info["extensionstatus"] == f"{MAX_EXTENSIONS}/{MAX_EXTENSIONS}"
    everything = pbx.api("extension/query", {"number": "all"}, token=token)["extinfos"]
    assert len(everything) == MAX_EXTENSIONS


def test_delete_all_of_a_full_pbx_leaves_no_reference(pbx: PbxProcess) -> None:
    """After the capacity test: every feature names some of the extensions; one
    delete of all of them takes every reference with it."""
    token = pbx.login()
    numbers = [e["number"] for e in pbx.api("extension/list", token=token)["extlist"]]
    assert len(numbers) == MAX_EXTENSIONS
    refer_to_extensions(pbx, token, numbers[::50])
    before = references_left(pbx, token)
    assert all(before[what] != nothing for what, nothing in NOTHING_LEFT.items()), before
    assert pbx.api("extension/delete", {"number": "all"}, token=token) == OK
    assert pbx.api("extension/list", token=token)["extlist"] == []
    assert references_left(pbx, token) == NOTHING_LEFT
