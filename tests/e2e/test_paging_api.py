"""paginggrouplist/query, paginggroup/query, add, update and delete (spec 51) against a
running PBX."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.groups_helpers import HOSTILE_TEXTS, NON_SCALARS, GroupApi, concurrently, module_pbx
from tests.harness import PbxProcess

WAREHOUSE = {
    "number": "6810",
    "name": "Warehouse",
    "type": "paging",
    "member": "3201,3202,3203",
    "membergroup": "Forklift Crew",
    "enabledialtoanswer": "yes",
}
CAMPUS = {
    "number": "6815",
    "name": "Campus Speakers",
    "type": "multicast",
    "multicastip": "239.20.7.5:5566",
}


@pytest.fixture(scope="module")
def pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PbxProcess]:
    yield from module_pbx(tmp_path_factory, "paging")


@pytest.fixture(scope="module")
def api(pbx: PbxProcess) -> GroupApi:
    api = GroupApi(pbx)
    for number in ("3201", "3202", "3203", "3210", "3211", "3212"):
        api.add_extension(number)
    api.ok("extensiongroup/add", {"name": "Forklift Crew", "members": "3210,3211"})
    api.ok("paginggroup/add", {**WAREHOUSE, "member": "3201, 3202,3203,"})
    api.ok("paginggroup/add", {**CAMPUS, "multicastip": "239.20.7.5"})
    return api


def group(api: GroupApi, number: str) -> dict[str, str]:
    return api.ok("paginggroup/query", {"number": number})["paginggroup"][0]


def test_query_and_list_have_the_exact_wire_shape(api: GroupApi) -> None:
    api.ok(
        "paginggroup/add",
        {
            "number": 6811,
            "name": "Kitchen Intercom",
            "type": "Intercom",
            "member": "3210,3211",
            "multicastip": "not looked at",
        },
    )
    kitchen = {
        "number": "6811",
        "name": "Kitchen Intercom",
        "type": "intercom",
        "member": "3210,3211",
        "membergroup": "",
        "enabledialtoanswer": "no",
    }
    assert api.ok("paginggroup/query", {"number": "all"}) == {
        "status": "Success",
        "paginggroup": [WAREHOUSE, kitchen, CAMPUS],
    }
    listed = {
        "status": "Success",
        "paginggrouplist": [
            {"number": "6810", "name": "Warehouse"},
            {"number": "6811", "name": "Kitchen Intercom"},
            {"number": "6815", "name": "Campus Speakers"},
        ],
    }
    assert api.ok("paginggrouplist/query") == listed
    assert api.ok("paginggroup/list", {}) == listed
    found = api.ok("paginggroup/query", {"number": "6815,9999,6810"})["paginggroup"]
    assert found == [WAREHOUSE, CAMPUS]


def test_update_and_type_changes(api: GroupApi) -> None:
    api.ok(
        "paginggroup/add",
        {"number": "6820", "name": "Changing", "type": "paging", "member": "3201"},
    )
    api.ok(
        "paginggroup/update",
        {
            "number": "6820",
            "type": "intercom",
            "member": "3210,3211,3212",
            "enabledialtoanswer": "yes",
        },
    )
    assert group(api, "6820")["member"] == "3210,3211,3212"
    # to multicast: needs an address (in the body or stored)
    api.fails("paginggroup/update", {"number": "6820", "type": "multicast"}, "10004")
    api.ok(
        "paginggroup/update",
        {"number": "6820", "type": "multicast", "multicastip": "224.1.2.3:6000"},
    )
    assert group(api, "6820") == {
        "number": "6820",
        "name": "Changing",
        "type": "multicast",
        "multicastip": "224.1.2.3:6000",
    }
    # back to paging: a member list must come along; the old settings come back otherwise kept
    api.fails("paginggroup/update", {"number": "6820", "type": "paging"}, "10004")
    api.ok(
        "paginggroup/update", {"number": "6820", "type": "paging", "membergroup": "Forklift Crew"}
    )
    assert group(api, "6820")["member"] == "3210,3211,3212"
    assert group(api, "6820")["membergroup"] == "Forklift Crew"
    assert group(api, "6820")["enabledialtoanswer"] == "yes"
    api.ok("paginggroup/update", {"number": "6820", "type": "multicast"})  # stored address
    # a paging group must keep at least one member
    api.ok(
        "paginggroup/update",
        {"number": "6820", "type": "paging", "member": "3201", "membergroup": ""},
    )
    api.fails("paginggroup/update", {"number": "6820", "member": ""}, "10004")
    assert group(api, "6820")["member"] == "3201"
    api.ok("paginggroup/delete", {"number": "6820"})


def test_add_errors(api: GroupApi) -> None:
    base = {"number": "6830", "name": "New", "type": "paging", "member": "3201"}
    for missing in ("number", "name", "type"):
        api.fails("paginggroup/add", {k: v for k, v in base.items() if k != missing}, "10004")
    api.fails("paginggroup/add", {**base, "member": ""}, "10004")
    api.fails("paginggroup/add", {"number": "6830", "name": "M", "type": "multicast"}, "10004")
    api.fails("paginggroup/add", {**base, "type": "broadcast"}, "10101")
    api.fails("paginggroup/add", {**base, "member": "3201,7777"}, "10006")
    api.fails("paginggroup/add", {**base, "membergroup": "No Such Group"}, "10101")
    api.fails("paginggroup/add", {**base, "enabledialtoanswer": "on"}, "10101")
    api.fails("paginggroup/add", {**base, "name": "a<b"}, "10101")
    api.fails("paginggroup/add", {**base, "number": "68a0"}, "10101")
    for address in [
        "10.0.0.1",
        "239.1.2.3:5567",
        "239.1.2.3:80",
        "239.1.2.3:70000",
        "240.0.0.1",
        "239.1.2",
        "239.1.2.3.4",
        "999.1.2.3",
        "ff02::1",
        "239.1.2.3:",
    ]:
        api.fails(
            "paginggroup/add",
            {"number": "6830", "name": "M", "type": "multicast", "multicastip": address},
            "10101",
        )
    api.fails("paginggroup/query", {"number": "6830"}, "10011")


def test_other_errors(api: GroupApi) -> None:
    api.fails("paginggroup/query", {}, "20007")
    api.fails("paginggroup/query", {"number": ""}, "10004")
    api.fails("paginggroup/query", {"number": "9999"}, "10011")
    api.fails("paginggroup/update", {"number": "9999", "name": "x"}, "10011")
    api.fails("paginggroup/update", {"name": "x"}, "10004")
    api.fails("paginggroup/update", {"number": "6810", "member": "7777"}, "10006")
    api.fails("paginggroup/update", {"number": "6810", "type": "loud"}, "10101")
    api.fails("paginggroup/update", {"number": "6815", "multicastip": "1.2.3.4"}, "10101")
    api.fails("paginggroup/delete", {"number": "6810,9999"}, "10011")
    assert group(api, "6810") == WAREHOUSE
    assert group(api, "6815") == CAMPUS


def test_limits(api: GroupApi) -> None:
    members = ",".join(str(4000 + i) for i in range(101))
    api.fails(
        "paginggroup/add",
        {"number": "6840", "name": "Huge", "type": "paging", "member": members},
        "10101",
    )


@pytest.mark.parametrize("bad", [*HOSTILE_TEXTS, *NON_SCALARS])
def test_hostile_values_change_nothing(api: GroupApi, bad: object) -> None:
    api.fails("paginggroup/update", {"number": "6810", "member": bad}, "10006")
    api.fails("paginggroup/update", {"number": "6810", "type": bad}, "10101")
    api.fails("paginggroup/update", {"number": "6815", "multicastip": bad}, "10101")
    answer, _ = api.raw(
        "paginggroup/add", {"number": bad, "name": "x", "type": "paging", "member": "3201"}
    )
    assert answer["status"] == "Failed"
    assert group(api, "6810") == WAREHOUSE
    assert group(api, "6815") == CAMPUS


def test_number_collisions_name_the_holder(api: GroupApi) -> None:
    base = {"name": "x", "type": "paging", "member": "3201"}
    detail = api.fails("paginggroup/add", {"number": "3201", **base}, "10100")
    assert detail == 'number 3201 is used by extension "Guest 3201" (3201)'
    detail = api.fails("paginggroup/add", {"number": "6810", **base}, "10100")
    assert 'paging group "Warehouse" (6810)' in detail
    detail = api.fails("ivr/add", {"number": "6815", "ivrname": "x"}, "10100")
    assert 'paging group "Campus Speakers" (6815)' in detail


def test_deleted_extension_leaves_the_group(api: GroupApi) -> None:
    api.add_extension("3219")
    api.ok(
        "paginggroup/add",
        {"number": "6850", "name": "Temp", "type": "paging", "member": "3219,3201"},
    )
    api.ok("extension/delete", {"number": "3219"})
    assert group(api, "6850")["member"] == "3201"
    api.ok("paginggroup/delete", {"number": "6850"})


def test_delete_all(api: GroupApi, pbx: PbxProcess) -> None:
    api.ok(
        "paginggroup/add", {"number": "6860", "name": "Doomed", "type": "paging", "member": "3201"}
    )
    concurrently(
        lambda: api.ok("paginggroup/update", {"number": "6860", "name": "Raced"}),
        lambda: api.ok("paginggroup/update", {"number": "6860", "member": "3202,3203"}),
        lambda: api.ok("paginggroup/update", {"number": "6860", "enabledialtoanswer": "yes"}),
    )
    got = group(api, "6860")
    assert (got["name"], got["member"], got["enabledialtoanswer"]) == ("Raced", "3202,3203", "yes")
    before = api.ok("paginggroup/query", {"number": "all"})
    pbx.restart()
    api.relogin()
    assert api.ok("paginggroup/query", {"number": "all"}) == before
    api.ok("paginggroup/delete", {"number": "all"})
    assert api.ok("paginggroup/query", {"number": "all"}) == {
        "status": "Success",
        "paginggroup": [],
    }
    api.ok("paginggroup/delete", {"number": "all"})


def test_member_groups_follow_renames_and_deletes(api: GroupApi) -> None:
    api.ok("extensiongroup/add", {"name": "Dock", "members": "3212"})
    groups = api.ok("extensiongroup/query", {"id": "all"})["extgroupinfos"]
    dock = next(g["id"] for g in groups if g["name"] == "Dock")
    api.ok(
        "paginggroup/add",
        {
            "number": "6870",
            "name": "Docks",
            "type": "paging",
            "member": "3201",
            "membergroup": "Dock",
        },
    )
    api.ok("extensiongroup/update", {"id": dock, "name": "Loading Dock"})
    assert group(api, "6870")["membergroup"] == "Loading Dock"
    api.ok("extensiongroup/delete", {"id": dock})
    assert group(api, "6870")["membergroup"] == ""
    api.ok("paginggroup/delete", {"number": "6870"})
