"""ringgroup/* (KiloPBX extension) against a running PBX over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.groups_helpers import HOSTILE_TEXTS, NON_SCALARS, GroupApi, concurrently, module_pbx
from tests.harness import PbxProcess


@pytest.fixture(scope="module")
def pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PbxProcess]:
    yield from module_pbx(tmp_path_factory, "ringgroups")


@pytest.fixture(scope="module")
def api(pbx: PbxProcess) -> GroupApi:
    api = GroupApi(pbx)
    for number in ("2101", "2102", "2103"):
        api.add_extension(number)
    return api


def test_default_ring_group_rings_the_default_extensions(api: GroupApi) -> None:
    groups = api.ok("ringgroup/query", {"number": "6300"})["ringgroups"]
    assert groups == [
        {
            "number": "6300",
            "name": "Reception",
            "strategy": "ringall",
            "members": "1000,1001,1002,1003",
            "ringtimeout": "30",
            "failoverdesttype": "hangup",
            "failoverdest": "",
        }
    ]


def test_add_query_update_delete(api: GroupApi) -> None:
    api.ok(
        "ringgroup/add",
        {
            "number": 6310,
            "name": "Sales Team",
            "members": "2101, 2102,2101,",
            "strategy": "Sequential",
            "ringtimeout": 20,
            "failoverdesttype": "extension",
            "failoverdest": 2103,
        },
    )
    group = api.ok("ringgroup/query", {"number": "6310"})["ringgroups"][0]
    assert group == {
        "number": "6310",
        "name": "Sales Team",
        "strategy": "sequential",
        "members": "2101,2102",
        "ringtimeout": "20",
        "failoverdesttype": "extension",
        "failoverdest": "2103",
    }
    api.ok("ringgroup/update", {"number": "6310", "members": "2103,2101", "ringtimeout": "45"})
    group = api.ok("ringgroup/query", {"number": 6310})["ringgroups"][0]
    assert (group["members"], group["ringtimeout"], group["name"]) == (
        "2103,2101",
        "45",
        "Sales Team",
    )
    listed = api.ok("ringgroup/list")["ringgroups"]
    assert {"number": "6310", "name": "Sales Team"} in listed
    api.ok("ringgroup/update", {"number": "6310", "failoverdesttype": "hangup"})
    assert api.ok("ringgroup/query", {"number": "6310"})["ringgroups"][0]["failoverdest"] == ""
    api.ok("ringgroup/delete", {"number": "6310"})
    api.fails("ringgroup/query", {"number": "6310"}, "10014")


def test_query_lists_skip_unknown_and_all_is_ordered(api: GroupApi) -> None:
    api.ok("ringgroup/add", {"number": "6320", "name": "B"})
    api.ok("ringgroup/add", {"number": "632", "name": "A"})
    found = api.ok("ringgroup/query", {"number": "6320,9999,632"})["ringgroups"]
    assert [g["number"] for g in found] == ["632", "6320"]
    numbers = [g["number"] for g in api.ok("ringgroup/query", {"number": "all"})["ringgroups"]]
    assert numbers == sorted(numbers, key=int)
    api.fails("ringgroup/query", {"number": "9999,9998"}, "10014")
    api.ok("ringgroup/delete", {"number": "6320,632"})


def test_errors(api: GroupApi) -> None:
    api.fails("ringgroup/query", {}, "20007")
    api.fails("ringgroup/query", {"name": "x"}, "10004")
    api.fails("ringgroup/add", {"number": "6330"}, "10004")
    api.fails("ringgroup/add", {"name": "x"}, "10004")
    api.fails("ringgroup/update", {"number": "6999", "name": "x"}, "10014")
    api.fails("ringgroup/delete", {"number": "6999"}, "10014")
    api.fails("ringgroup/add", {"number": "63a0", "name": "x"}, "10101")
    api.fails("ringgroup/add", {"number": "6330", "name": "x", "strategy": "loud"}, "10101")
    api.fails("ringgroup/add", {"number": "6330", "name": "x", "ringtimeout": 4}, "10101")
    api.fails("ringgroup/add", {"number": "6330", "name": "x", "ringtimeout": "301"}, "10101")
    api.fails("ringgroup/add", {"number": "6330", "name": "x", "members": "2101,7777"}, "10006")
    detail = api.fails(
        "ringgroup/add",
        {"number": "6330", "name": "x", "failoverdesttype": "queue", "failoverdest": "6999"},
        "10101",
    )
    assert "no such queue" in detail
    api.fails("ringgroup/add", {"number": "6330", "name": "x", "failoverdesttype": "disa"}, "10101")
    # a new destination type needs its value; a group cannot fail over to itself
    api.fails("ringgroup/update", {"number": "6300", "failoverdesttype": "ivr"}, "10101")
    api.fails(
        "ringgroup/update",
        {"number": "6300", "failoverdesttype": "ringgroup", "failoverdest": "6300"},
        "10101",
    )
    api.fails("ringgroup/query", {"number": "6330"}, "10014")  # nothing half-created


@pytest.mark.parametrize("bad", [*HOSTILE_TEXTS, *NON_SCALARS])
def test_hostile_values_are_refused_and_change_nothing(api: GroupApi, bad: object) -> None:
    before = api.ok("ringgroup/query", {"number": "6300"})
    for field in ("members", "strategy", "ringtimeout", "failoverdesttype"):
        answer, _detail = api.raw("ringgroup/update", {"number": "6300", field: bad})
        assert answer["status"] == "Failed", (field, bad)
        assert answer["errno"] in {"10101", "10006"}
    answer, _detail = api.raw("ringgroup/add", {"number": bad, "name": "x"})
    assert answer["status"] == "Failed"
    assert api.ok("ringgroup/query", {"number": "6300"}) == before


@pytest.mark.parametrize(
    "name", ["", " padded", "a\x00b", "x" * 64, "Bad<name>", 'say "hi"', "back`tick"]
)
def test_bad_names_are_refused(api: GroupApi, name: str) -> None:
    errno = "10004" if name == "" else "10101"
    api.fails("ringgroup/add", {"number": "6390", "name": name}, errno)
    if name:
        api.fails("ringgroup/update", {"number": "6300", "name": name}, "10101")


def test_unicode_and_numeric_names_are_fine(api: GroupApi) -> None:
    api.ok("ringgroup/add", {"number": "6391", "name": "Küche ١٢٣"})
    api.ok("ringgroup/update", {"number": "6391", "name": 42})
    assert api.ok("ringgroup/query", {"number": "6391"})["ringgroups"][0]["name"] == "42"
    api.ok("ringgroup/delete", {"number": 6391})


def test_number_collisions_name_the_holder(api: GroupApi) -> None:
    detail = api.fails("ringgroup/add", {"number": "2101", "name": "x"}, "10100")
    assert detail == 'number 2101 is used by extension "Guest 2101" (2101)'
    detail = api.fails("ringgroup/add", {"number": "6400", "name": "x"}, "10100")
    assert "queue" in detail and "6400" in detail
    detail = api.fails("ringgroup/add", {"number": "6300", "name": "x"}, "10100")
    assert 'ring group "Reception" (6300)' in detail
    # and the other way round: an extension cannot take a ring group's number
    answer, detail = api.raw(
        "extension/add",
        {
            "number": "6300",
            "username": "Clash",
            "registername": "clash6300",
            "registerpassword": "Tq7wLp3xVz9bKd4M",
        },
    )
    assert answer["status"] == "Failed" and "ring group" in detail


def test_referenced_group_cannot_be_deleted(api: GroupApi) -> None:
    api.ok("ringgroup/add", {"number": "6340", "name": "Target"})
    api.ok(
        "ringgroup/add",
        {
            "number": "6341",
            "name": "Pointer",
            "failoverdesttype": "ringgroup",
            "failoverdest": "6340",
        },
    )
    detail = api.fails("ringgroup/delete", {"number": "6340"}, "10101")
    assert "6341" in detail
    # deleting both at once is fine, and unknown numbers delete nothing
    api.fails("ringgroup/delete", {"number": "6340,6341,6999"}, "10014")
    api.ok("ringgroup/delete", {"number": "6340,6341"})


def test_concurrent_updates_lose_nothing(api: GroupApi) -> None:
    api.ok("ringgroup/add", {"number": "6350", "name": "Busy"})
    concurrently(
        lambda: api.ok("ringgroup/update", {"number": "6350", "name": "Renamed"}),
        lambda: api.ok("ringgroup/update", {"number": "6350", "ringtimeout": 55}),
        lambda: api.ok("ringgroup/update", {"number": "6350", "members": "2101,2102"}),
        lambda: api.ok("ringgroup/update", {"number": "6350", "strategy": "random"}),
    )
    group = api.ok("ringgroup/query", {"number": "6350"})["ringgroups"][0]
    assert (group["name"], group["ringtimeout"], group["members"], group["strategy"]) == (
        "Renamed",
        "55",
        "2101,2102",
        "random",
    )
    # two competing member lists: one wins whole, never a mix
    concurrently(
        lambda: api.ok("ringgroup/update", {"number": "6350", "members": "2101"}),
        lambda: api.ok("ringgroup/update", {"number": "6350", "members": "2102,2103"}),
    )
    members = api.ok("ringgroup/query", {"number": "6350"})["ringgroups"][0]["members"]
    assert members in {"2101", "2102,2103"}


def test_concurrent_adds_of_one_number_create_one(api: GroupApi) -> None:
    answers = concurrently(
        *[lambda: api.raw("ringgroup/add", {"number": "6360", "name": "Race"})[0]] * 4
    )
    assert sorted(a["status"] for a in answers) == ["Failed", "Failed", "Failed", "Success"]


def test_deleted_extension_leaves_groups(api: GroupApi) -> None:
    api.add_extension("2109")
    api.ok(
        "ringgroup/add",
        {
            "number": "6370",
            "name": "Leaving",
            "members": "2101,2109",
            "failoverdesttype": "voicemail",
            "failoverdest": "2109",
        },
    )
    api.ok("extension/delete", {"number": "2109"})
    group = api.ok("ringgroup/query", {"number": "6370"})["ringgroups"][0]
    assert (group["members"], group["failoverdesttype"], group["failoverdest"]) == (
        "2101",
        "hangup",
        "",
    )


def test_restart_keeps_everything_and_deleted_defaults_stay_deleted(
    api: GroupApi, pbx: PbxProcess
) -> None:
    api.ok("ringgroup/add", {"number": "6380", "name": "Durable", "members": "2102"})
    before = api.ok("ringgroup/query", {"number": "all"})
    pbx.restart()
    api.relogin()
    assert api.ok("ringgroup/query", {"number": "all"}) == before
    # the default IVR sends calls to the default group: it goes first
    api.ok("ivr/delete", {"number": "6200"})
    api.ok("ringgroup/delete", {"number": "6300"})
    pbx.restart()
    api.relogin()
    api.fails("ringgroup/query", {"number": "6300"}, "10014")
    api.fails("ivr/query", {"number": "6200"}, "10012")


def test_group_used_by_an_inbound_route_cannot_be_deleted(api: GroupApi) -> None:
    api.ok(
        "trunk/add_siptrunk",
        {"trunkname": "CarrierOne", "trunktype": "peer", "host": "10.0.0.1", "domain": "10.0.0.1"},
    )
    api.ok("ringgroup/add", {"number": "6395", "name": "Routed"})
    route = {"name": "MainDid", "trunks": "CarrierOne", "desttype": "ringgroup", "dest": "6395"}
    route_id = api.ok("inroute/add", route)["id"]
    detail = api.fails("ringgroup/delete", {"number": "6395"}, "10101")
    assert 'inbound route "MainDid"' in detail
    api.ok("inroute/delete", {"id": route_id})
    api.ok("ringgroup/delete", {"number": "6395"})


def test_renumbered_extension_is_followed_everywhere(api: GroupApi) -> None:
    api.add_extension("2150")
    api.ok(
        "ringgroup/add",
        {
            "number": "6396",
            "name": "Follow",
            "members": "2101,2150",
            "failoverdesttype": "voicemail",
            "failoverdest": "2150",
        },
    )
    api.ok("queue/add", {"number": "6397", "queuename": "Follow", "agents": "2150"})
    api.ok("conference/add", {"number": "6398", "name": "Follow", "moderators": "2150"})
    api.ok(
        "paginggroup/add", {"number": "6399", "name": "Follow", "type": "paging", "member": "2150"}
    )
    api.ok(
        "ivr/add",
        {
            "number": "6390",
            "ivrname": "Follow",
            "keys": [{"key": "4", "desttype": "extension", "dest": "2150"}],
        },
    )
    api.ok(
        "wakeupcall/create", {"number": "2150", "wakeup": [{"time": "06:00", "type": "everyday"}]}
    )
    api.ok("extension/renumber", {"number": "2150", "newnumber": "2151"})
    group = api.ok("ringgroup/query", {"number": "6396"})["ringgroups"][0]
    assert (group["members"], group["failoverdest"]) == ("2101,2151", "2151")
    assert api.ok("queue/query", {"number": "6397"})["queues"][0]["agents"] == "2151"
    assert api.ok("conference/query", {"number": "6398"})["conferences"][0]["moderators"] == "2151"
    assert api.ok("paginggroup/query", {"number": "6399"})["paginggroup"][0]["member"] == "2151"
    keys = api.ok("ivr/query_destinations", {"number": "6390"})["ivrdestinations"][0]["keys"]
    assert keys == [{"key": "4", "desttype": "extension", "dest": "2151"}]
    wakeups = api.ok("wakeupcall/query", {"number": "2151"})["wakeups"]
    assert wakeups[0]["number"] == "2151" and len(wakeups[0]["wakeup"]) == 1
