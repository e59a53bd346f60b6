"""inroute/* and outroute/* (31-routes.md), business hours and the other KiloPBX route
extensions, against a running PBX."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.trunk_route_helpers import OK, Api, failed, module_pbx, run_together
from tests.harness import PbxProcess

# objects the routes point at; extensions 1000-1003 and the group "All staff" are the
# PBX's first-start defaults
IVR, QUEUE, RING_GROUP, ROOM = "7301", "6802", "6310", "6900"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PbxProcess]:
    yield from module_pbx(tmp_path_factory, "routes")


@pytest.fixture(scope="module")
def api(server: PbxProcess) -> Api:
    api = Api(server, server.login())
    for name in ("CarrierOne", "CarrierTwo", "CarrierThree"):
        api.ok(
            "trunk/add_siptrunk",
            {"trunkname": name, "trunktype": "peer", "host": "10.0.0.1", "domain": "10.0.0.1"},
        )
    api.ok("ivr/add", {"number": IVR, "ivrname": "MainMenu"})
    api.ok("queue/add", {"number": QUEUE, "queuename": "Support"})
    api.ok("ringgroup/add", {"number": RING_GROUP, "name": "Desk"})
    api.ok("conference/add", {"number": ROOM, "name": "Board"})
    api.ok("extensiongroup/add", {"name": "SalesTeam", "members": "1001,1002"})
    return api


def inroute(name: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "did": "",
        "caller_id": "",
        "trunks": "CarrierOne",
        "desttype": "hangup",
    } | fields


def outroute(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "prefix": "9.", "trunks": "CarrierOne", "extensions": "1000"} | fields


def add_in(api: Api, name: str, **fields: Any) -> str:
    return str(api.ok("inroute/add", inroute(name, **fields))["id"])


def add_out(api: Api, name: str, **fields: Any) -> str:
    return str(api.ok("outroute/add", outroute(name, **fields))["id"])


def get_in(api: Api, route_id: str) -> dict[str, str]:
    return api.ok("inroute/query", {"id": route_id})["inroutes"][0]


def get_out(api: Api, route_id: str) -> dict[str, str]:
    return api.ok("outroute/query", {"id": route_id})["outroutes"][0]


# -- inbound ---------------------------------------------------------------------------------


def test_inroute_round_trip_in_wire_shape(api: Api) -> None:
    body = {
        "name": "SupportLine",
        "did": "4402100",
        "caller_id": "",
        "trunks": "CarrierOne,CarrierTwo",
        "desttype": "queue",
        "dest": int(QUEUE),
    }
    answer = api("inroute/add", body)
    assert answer["status"] == "Success" and answer["id"].isdigit()
    route = get_in(api, answer["id"])
    assert list(route) == ["id", "name", "did", "caller_id", "trunks", "desttype", "dest"]
    assert route == {**body, "id": answer["id"], "dest": QUEUE}


@pytest.mark.parametrize(
    ("desttype", "dest", "stored"),
    [
        ("hangup", None, ""),
        ("hangup", "ignored", ""),
        ("extension", 1000, "1000"),
        ("extrange", "1000-1999", "1000-1999"),
        ("voicemail", "1001", "1001"),
        ("faxtoemail", "1002", "1002"),
        ("ivr", IVR, IVR),
        ("queue", QUEUE, QUEUE),
        ("ringgroup", RING_GROUP, RING_GROUP),
        ("conference", ROOM, ROOM),
        ("IVR", IVR, IVR),
    ],
)
def test_every_destination_type(api: Api, desttype: str, dest: Any, stored: str) -> None:
    fields = {"desttype": desttype, "did": f"88{abs(hash((desttype, dest))) % 10**6}"}
    if dest is not None:
        fields["dest"] = dest
    route = get_in(api, add_in(api, f"Dest-{desttype}-{dest}", **fields))
    assert (route["desttype"], route["dest"]) == (desttype.lower(), stored)


def test_outroute_destination_and_rename_follow(api: Api) -> None:
    add_out(api, "ToCarrier")
    route_id = add_in(api, "Onward", did="5550100", desttype="outroute", dest="ToCarrier")
    out_id = api.ok("outroute/query", {"id": "all"})["outroutes"][-1]["id"]
    api.ok("outroute/update", {"id": out_id, "name": "ToCarrierRenamed"})
    assert get_in(api, route_id)["dest"] == "ToCarrierRenamed"


@pytest.mark.parametrize(
    ("changes", "errno"),
    [
        ({"name": None}, "10004"),
        ({"trunks": None}, "10004"),
        ({"trunks": " , "}, "10004"),
        ({"desttype": None}, "10004"),
        ({"desttype": "extension"}, "10004"),  # no dest for a type that needs one
        ({"name": ["x"]}, "10004"),
        ({"name": "a,b"}, "10063"),
        ({"name": "n" * 64}, "10063"),
        ({"name": "line\nbreak"}, "10063"),
        ({"did": "12[3"}, "10065"),
        ({"did": "9.1"}, "10065"),
        ({"did": "44ab"}, "10065"),
        ({"did": "[9-1]"}, "10065"),
        ({"did": "1" * 65}, "10065"),
        ({"caller_id": "0!1"}, "10066"),
        ({"caller_id": "<script>"}, "10066"),
        ({"trunks": "CarrierOne,NoSuchTrunk"}, "10067"),
        ({"desttype": "fax"}, "10068"),
        ({"desttype": "extension", "dest": "4999"}, "10069"),
        ({"desttype": "ivr", "dest": QUEUE}, "10069"),  # a queue's number is not an IVR
        ({"desttype": "queue", "dest": "1000"}, "10069"),
        ({"desttype": "extrange", "dest": "2000-299"}, "10069"),
        ({"desttype": "extrange", "dest": "2999-2000"}, "10069"),
        ({"desttype": "outroute", "dest": "NoSuchRoute"}, "10069"),
        ({"desttype": "disa", "dest": "entry"}, "10069"),
        ({"desttype": "extension", "dest": "1" * 200}, "10069"),
    ],
)
def test_inroute_add_refuses(api: Api, changes: dict[str, Any], errno: str) -> None:
    body = inroute("Refused", did="7777")
    for key, value in changes.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    assert api("inroute/add", body) == failed(errno)


def test_inroute_duplicates(api: Api) -> None:
    add_in(api, "DupBase", did="4402XXX", caller_id="0XXX", trunks="CarrierOne,CarrierTwo")
    assert api("inroute/add", inroute("DupBase", did="1")) == failed("10064")
    # same patterns (case-insensitive) on a shared trunk could never be reached
    clash = inroute("DupClash", did="4402xxx", caller_id="0xxx", trunks="CarrierThree,CarrierTwo")
    assert api("inroute/add", clash) == failed("10064")
    add_in(api, "DupOtherTrunk", did="4402XXX", caller_id="0XXX", trunks="CarrierThree")


def test_inroute_update_rules(api: Api) -> None:
    route_id = add_in(api, "Changing", did="3100", desttype="extension", dest="1000")
    assert api("inroute/update", {"id": int(route_id), "dest": "1001"}) == OK
    assert get_in(api, route_id)["dest"] == "1001"
    # a new type needs its dest; hangup needs none
    assert api("inroute/update", {"id": route_id, "desttype": "queue"}) == failed("10069")
    assert api("inroute/update", {"id": route_id, "dest": QUEUE}) == failed("10069")
    assert api("inroute/update", {"id": route_id, "desttype": "queue", "dest": QUEUE}) == OK
    assert api("inroute/update", {"id": route_id, "desttype": "hangup"}) == OK
    assert get_in(api, route_id)["dest"] == ""
    # all or nothing: a bad field leaves the valid ones unapplied
    assert api("inroute/update", {"id": route_id, "did": "3199", "trunks": "Nope"}) == failed(
        "10067"
    )
    assert get_in(api, route_id)["did"] == "3100"
    for body, errno in [
        ({"did": "1"}, "10004"),
        ({"id": "99999", "did": "1"}, "10072"),
        ({"id": "x", "did": "1"}, "10072"),
        ({"id": route_id, "name": "DupBase"}, "10064"),
        ({"id": route_id, "caller_id": "[12"}, "10066"),
    ]:
        assert api("inroute/update", body) == failed(errno), body


def test_inroute_query_and_delete(api: Api) -> None:
    first, second = add_in(api, "QA", did="6001"), add_in(api, "QB", did="6002")
    listed = api.ok("inroute/query", {"id": f"{second}, {first},{first},424242"})["inroutes"]
    assert [r["id"] for r in listed] == [first, second]  # evaluation order
    assert api("inroute/query", {"id": "424242"}) == failed("10072")
    assert api("inroute/query", {}) == failed("20007")
    assert api("inroute/delete", {"id": f"{first},424242"}) == failed("10072")
    assert api("inroute/delete", {"id": f"{first},{second}"}) == OK
    assert api("inroute/query", {"id": f"{first},{second}"}) == failed("10072")


# -- outbound --------------------------------------------------------------------------------


def test_outroute_round_trip_in_wire_shape(api: Api) -> None:
    body = {
        "name": "National",
        "prefix": "90[1-9]XXXXXXXX",
        "strip": 1,
        "prepend": "",
        "trunks": "CarrierTwo,CarrierOne",
        "extensions": "1000, 1001,1000",
        "extensionsgroup": "SalesTeam",
    }
    answer = api("outroute/add", body)
    assert answer["status"] == "Success"
    route = get_out(api, answer["id"])
    assert list(route) == [
        "id",
        "name",
        "prefix",
        "strip",
        "prepend",
        "trunks",
        "extensions",
        "extensionsgroup",
    ]
    assert route == {**body, "id": answer["id"], "strip": "1", "extensions": "1000,1001"}
    unset = get_out(api, add_out(api, "Emergency", prefix="112", extensions="all"))
    assert (unset["strip"], unset["extensions"], unset["extensionsgroup"]) == ("", "all", "")


@pytest.mark.parametrize(
    ("changes", "errno"),
    [
        ({"name": None}, "10004"),
        ({"prefix": None}, "10004"),
        ({"trunks": None}, "10004"),
        ({"extensions": None}, "10004"),
        ({"extensions": ""}, "10004"),
        ({"name": "x,y"}, "10073"),
        ({"prefix": "9.1"}, "10075"),
        ({"prefix": "9?"}, "10075"),
        ({"strip": "3", "prefix": "9X"}, "10076"),  # longer than the shortest match
        ({"strip": "-1"}, "10076"),
        ({"strip": "one"}, "10076"),
        ({"prepend": "00a"}, "10077"),
        ({"prepend": "1" * 33}, "10077"),
        ({"trunks": "Ghost"}, "10078"),
        ({"extensions": "1000,4999"}, "10079"),
        ({"extensions": "7301"}, "10079"),  # an IVR's number is not an extension
        ({"extensionsgroup": "Nobody"}, "10080"),
    ],
)
def test_outroute_add_refuses(api: Api, changes: dict[str, Any], errno: str) -> None:
    body = outroute("RefusedOut")
    for key, value in changes.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    assert api("outroute/add", body) == failed(errno)


def test_outroute_update_and_delete(api: Api) -> None:
    route_id = add_out(api, "OutChanging", prefix="0XXXXXXXXX", strip="1")
    add_out(api, "OutOther")
    assert (
        api("outroute/update", {"id": route_id, "trunks": "CarrierThree", "extensions": "1002"})
        == OK
    )
    route = get_out(api, route_id)
    assert (route["trunks"], route["extensions"], route["strip"]) == ("CarrierThree", "1002", "1")
    assert api("outroute/update", {"id": route_id, "strip": ""}) == OK
    assert get_out(api, route_id)["strip"] == ""
    for body, errno in [
        ({"id": route_id, "extensions": ""}, "10004"),
        ({"id": "99999", "name": "x"}, "10083"),
        ({"id": route_id, "name": "OutOther"}, "10074"),
        ({"id": route_id, "strip": "99"}, "10076"),
        ({"id": route_id, "prepend": "x"}, "10077"),
    ]:
        assert api("outroute/update", body) == failed(errno), body
    assert api("outroute/query", {"id": "99999"}) == failed("10083")
    assert api("outroute/delete", {"id": f"{route_id},99999"}) == failed("10083")
    assert api("outroute/delete", {"id": route_id}) == OK


# -- references to trunks, extensions and groups --------------------------------------------------


def test_trunk_rename_and_delete_reach_the_routes(api: Api) -> None:
    trunk_id = api.ok(
        "trunk/add_siptrunk",
        {"trunkname": "Shortlived", "trunktype": "peer", "host": "10.1.1.1", "domain": "10.1.1.1"},
    )["id"]
    in_id = add_in(api, "ViaShortlived", did="3300", trunks="Shortlived,CarrierOne")
    out_id = add_out(api, "OutShortlived", trunks="CarrierTwo,Shortlived")
    api.ok("trunk/update_siptrunk", {"id": trunk_id, "trunktype": "peer", "trunkname": "Renamed"})
    assert get_in(api, in_id)["trunks"] == "Renamed,CarrierOne"
    assert get_out(api, out_id)["trunks"] == "CarrierTwo,Renamed"
    api.ok("trunk/delete_siptrunk", {"id": trunk_id})
    assert get_in(api, in_id)["trunks"] == "CarrierOne"
    assert get_out(api, out_id)["trunks"] == "CarrierTwo"
    only = add_in(api, "OnlyRenamed", did="3301", trunks="CarrierThree")
    trunk_id = api.ok("trunk/query_siptrunk", {"id": "all"})["trunks"][2]["id"]
    api.ok("trunk/delete_siptrunk", {"id": trunk_id})
    assert get_in(api, only)["trunks"] == ""  # stays stored, can never match


def test_deleted_extensions_and_groups_leave_the_permissions(api: Api) -> None:
    api.ok(
        "extension/add",
        {
            "number": "2105",
            "username": "Temp",
            "registername": "reg2105",
            "registerpassword": "Tq7wLp3xVz9bKd4M",
        },
    )
    api.ok("extensiongroup/add", {"name": "Temporary", "members": "2105"})
    api.ok(
        "trunk/update_siptrunk", {"id": 1, "trunktype": "peer", "extensionsdod": "7000-temp-2105"}
    )
    route_id = add_out(api, "Perms", extensions="1000,2105", extensionsgroup="Temporary,SalesTeam")
    inbound_id = add_in(api, "ToTemp", did="2105", desttype="voicemail", dest="2105")
    api.ok("extension/renumber", {"number": "2105", "newnumber": "2106"})
    assert get_out(api, route_id)["extensions"] == "1000,2106"
    assert get_in(api, inbound_id)["dest"] == "2106"
    dod = api.ok("trunk/query_siptrunk", {"id": "1"})["trunks"][0]["extensionsdod"]
    assert dod == "7000-temp-2106"
    api.ok("extension/delete", {"number": "2106"})
    assert (get_in(api, inbound_id)["desttype"], get_in(api, inbound_id)["dest"]) == ("hangup", "")
    group_id = next(
        g["id"]
        for g in api.ok("extensiongroup/query", {"id": "all"})["extgroupinfos"]
        if g["name"] == "Temporary"
    )
    api.ok("extensiongroup/delete", {"id": group_id})
    route = get_out(api, route_id)
    assert (route["extensions"], route["extensionsgroup"]) == ("1000", "SalesTeam")
    trunk = api.ok("trunk/query_siptrunk", {"id": "1"})["trunks"][0]
    assert trunk["extensionsdod"] == ""  # followed the renumber, then left with the extension


def test_extension_deleted_while_a_route_names_it_leaves_nothing_dangling(api: Api) -> None:
    for n in range(5):
        number = f"24{n:02d}"
        api.ok(
            "extension/add",
            {
                "number": number,
                "username": f"Racer {n}",
                "registername": f"race{number}",
                "registerpassword": "Tq7wLp3xVz9bKd4M",
            },
        )
        added, deleted = run_together(
            lambda number=number, n=n: api(
                "outroute/add", outroute(f"Race{n}", extensions=f"1000,{number}")
            ),
            lambda number=number: api("extension/delete", {"number": number}),
        )
        assert deleted == OK
        if added["status"] == "Success":  # either refused, or added and then cleaned
            assert get_out(api, added["id"])["extensions"] == "1000"
        else:
            assert added == failed("10079")


# -- KiloPBX extensions: business hours, order, outbound options -----------------------------------


def test_business_hours_on_an_inbound_route(api: Api) -> None:
    condition = api.ok(
        "timecondition/add",
        {
            "name": "Office",
            "timezone": "Europe/Berlin",
            "weekly": "mon-fri 08:00-12:00, Mon-Fri 13:00-17:30",
            "exceptions": "12-25 closed,2026-12-24 09:00-12:00",
        },
    )["id"]
    info = api.ok("timecondition/query", {"id": condition})["timeconditions"][0]
    assert info["weekly"] == "mon-fri 08:00-12:00,mon-fri 13:00-17:30"
    assert info["state"] in ("open", "closed")
    check = [
        ("2026-12-21 10:00", "open"),
        ("2026-12-21 12:30", "closed"),
        ("2026-12-26 10:00", "closed"),
        ("2026-12-25 10:00", "closed"),
        ("2026-12-24 10:00", "open"),
        ("2026-12-24 13:00", "closed"),
    ]
    for moment, state in check:
        assert api.ok("timecondition/check", {"id": condition, "time": moment})["state"] == state
    route_id = add_in(api, "Hours", did="4000", desttype="queue", dest=QUEUE)
    body = {
        "id": route_id,
        "timecondition": condition,
        "outofhoursdesttype": "voicemail",
        "outofhoursdest": "1000",
    }
    assert api("inroute/set_hours", body) == OK
    hours = api.ok("inroute/query_hours", {"id": route_id})["inroutehours"][0]
    assert hours["timecondition"] == condition and hours["outofhoursdest"] == "1000"
    assert hours["state"] in ("open", "closed")
    assert get_in(api, route_id)["dest"] == QUEUE  # the wire shape does not change
    for bad, errno in [
        ({**body, "timecondition": "99999"}, "10905"),
        ({**body, "outofhoursdesttype": "bogus"}, "10068"),
        ({**body, "outofhoursdest": "4999"}, "10069"),
        ({**body, "id": "99999"}, "10072"),
        ({"id": route_id}, "10004"),
    ]:
        assert api("inroute/set_hours", bad) == failed(errno), bad
    assert api("timecondition/delete", {"id": condition}) == failed("10906")  # in use
    api.ok("inroute/set_hours", {"id": route_id, "timecondition": ""})
    assert api.ok("inroute/query_hours", {"id": route_id})["inroutehours"][0]["state"] == "always"
    assert api("timecondition/delete", {"id": condition}) == OK


@pytest.mark.parametrize(
    ("body", "errno"),
    [
        ({"weekly": "mon-fri 08:00-17:00"}, "10004"),
        ({"name": "a,b"}, "10900"),
        ({"name": "TC", "weekly": "mon-fri 17:00-08:00"}, "10902"),
        ({"name": "TC", "weekly": "funday 08:00-09:00"}, "10902"),
        ({"name": "TC", "weekly": "mon 8-9"}, "10902"),
        ({"name": "TC", "exceptions": "2026-02-30 closed"}, "10903"),
        ({"name": "TC", "exceptions": "2026-12-31~2026-12-01"}, "10903"),
        ({"name": "TC", "timezone": "Mars/Olympus"}, "10904"),
    ],
)
def test_time_condition_refuses(api: Api, body: dict[str, Any], errno: str) -> None:
    assert api("timecondition/add", body) == failed(errno)


def test_time_condition_update_and_errors(api: Api) -> None:
    first = api.ok("timecondition/add", {"name": "Shop", "weekly": "sat 09:00-13:00"})["id"]
    api.ok("timecondition/add", {"name": "Shop2"})
    assert api("timecondition/add", {"name": "Shop"}) == failed("10901")
    assert api("timecondition/update", {"id": first, "name": "Shop2"}) == failed("10901")
    assert api("timecondition/update", {"id": "99999", "name": "x"}) == failed("10905")
    assert api("timecondition/check", {"id": first, "time": "tomorrow"}) == failed("10908")
    assert api("timecondition/update", {"id": first, "weekly": "sun 10:00-12:00"}) == OK
    assert (
        api.ok("timecondition/check", {"id": first, "time": "2026-11-29 11:00"})["state"] == "open"
    )
    assert api("timecondition/delete", {"id": f"{first},99999"}) == failed("10905")


def test_evaluation_order(api: Api) -> None:
    ids = [r["id"] for r in api.ok("outroute/query", {"id": "all"})["outroutes"]]
    assert api("outroute/set_order", {"id": ",".join(reversed(ids))}) == OK
    assert [r["id"] for r in api.ok("outroute/query", {"id": "all"})["outroutes"]] == ids[::-1]
    assert api("outroute/set_order", {"id": ",".join(ids[:-1])}) == failed("10920")
    assert api("outroute/set_order", {"id": ",".join([*ids, "99999"])}) == failed("10083")
    in_ids = [r["id"] for r in api.ok("inroute/query", {"id": "all"})["inroutes"]]
    assert api("inroute/set_order", {"id": ",".join([in_ids[-1], *in_ids[:-1]])}) == OK
    assert api.ok("inroute/query", {"id": "all"})["inroutes"][0]["id"] == in_ids[-1]


def test_outroute_options(api: Api) -> None:
    route_id = add_out(api, "WithOptions")
    defaults = api.ok("outroute/query_options", {"id": route_id})["outrouteoptions"][0]
    assert defaults == {
        "id": route_id,
        "name": "WithOptions",
        "callerpattern": "",
        "callerid": "",
        "callername": "",
        "pin": "",
        "record": "no",
    }
    api.ok(
        "outroute/update_options",
        {
            "id": route_id,
            "callerpattern": "10XX",
            "callerid": 4402000,
            "callername": "Sales",
            "pin": "4711",
            "record": True,
        },
    )
    options = api.ok("outroute/query_options", {"id": route_id})["outrouteoptions"][0]
    assert options | {"id": "", "name": ""} == {
        "id": "",
        "name": "",
        "callerpattern": "10XX",
        "callerid": "4402000",
        "callername": "Sales",
        "pin": "4711",
        "record": "yes",
    }
    for field, value, errno in [
        ("callerpattern", "1.2", "10921"),
        ("callerid", "x", "10922"),
        ("callername", "<b>", "10923"),
        ("pin", "12ab", "10924"),
        ("record", "sometimes", "10925"),
    ]:
        assert api("outroute/update_options", {"id": route_id, field: value}) == failed(errno)
    assert api("outroute/update_options", {"id": "99999", "pin": "1"}) == failed("10083")


# -- concurrency, capacity, restart ----------------------------------------------------------------


def test_concurrent_updates_of_one_route_lose_nothing(api: Api) -> None:
    in_id = add_in(api, "RaceIn", did="9100")
    out_id = add_out(api, "RaceOut")
    for n in range(5):
        results = run_together(
            lambda n=n: api("inroute/update", {"id": in_id, "did": f"91{n}"}),
            lambda n=n: api("inroute/update", {"id": in_id, "caller_id": f"0{n}X"}),
            lambda n=n: api("outroute/update", {"id": out_id, "prepend": f"{n}"}),
            lambda n=n: api("outroute/update", {"id": out_id, "extensions": f"100{n % 4}"}),
        )
        assert results == [OK, OK, OK, OK]
        assert (get_in(api, in_id)["did"], get_in(api, in_id)["caller_id"]) == (f"91{n}", f"0{n}X")
        out = get_out(api, out_id)
        assert (out["prepend"], out["extensions"]) == (f"{n}", f"100{n % 4}")
    racing = run_together(*(lambda: api("outroute/add", outroute("SameName")) for _ in range(4)))
    assert sorted(r["status"] for r in racing) == ["Failed", "Failed", "Failed", "Success"]


def test_two_hundred_routes_each_way(api: Api) -> None:
    for index in range(200):
        add_in(api, f"BulkIn{index}", did=f"55{index:04d}", desttype="extension", dest="1000")
        add_out(api, f"BulkOut{index}", prefix=f"8{index:03d}.", extensions="all")
    inbound = api.ok("inroute/query", {"id": "all"})["inroutes"]
    outbound = api.ok("outroute/query", {"id": "all"})["outroutes"]
    assert sum(r["name"].startswith("BulkIn") for r in inbound) == 200
    assert sum(r["name"].startswith("BulkOut") for r in outbound) == 200


def test_restart_keeps_everything(api: Api) -> None:
    queries = [
        ("inroute/query", {"id": "all"}),
        ("outroute/query", {"id": "all"}),
        ("inroute/query_hours", {"id": "all"}),
        ("outroute/query_options", {"id": "all"}),
        ("timecondition/query", {"id": "all"}),
    ]
    before = [api.ok(endpoint, body) for endpoint, body in queries]
    api.pbx.restart()
    assert [api.ok(endpoint, body) for endpoint, body in queries] == before


def test_route_limits_and_empty_answers(tmp_path_factory: pytest.TempPathFactory) -> None:
    env = {"KILOPBX_MAX_INBOUND_ROUTES": "1", "KILOPBX_MAX_OUTBOUND_ROUTES": "1"}
    for small in module_pbx(tmp_path_factory, "route-limit", env):
        api = Api(small, small.login())
        assert api("inroute/query", {"id": "all"}) == {"status": "Success", "inroutes": []}
        assert api("outroute/query", {"id": "all"}) == {"status": "Success", "outroutes": []}
        assert api("inroute/delete", {"id": "all"}) == OK
        api.ok(
            "trunk/add_siptrunk",
            {
                "trunkname": "CarrierOne",
                "trunktype": "peer",
                "host": "10.0.0.1",
                "domain": "10.0.0.1",
            },
        )
        add_in(api, "First")
        assert api("inroute/add", inroute("Second", did="2")) == failed("10070")
        add_out(api, "First")
        assert api("outroute/add", outroute("Second")) == failed("10081")
