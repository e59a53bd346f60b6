"""trunk/* endpoints (30-trunks.md) and the KiloPBX trunk settings against a running PBX."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.trunk_route_helpers import (
    OK,
    Api,
    failed,
    module_pbx,
    module_receiver,
    run_together,
)
from tests.harness import EventReceiver, PbxProcess

SECRET = "Xq9Zr7Lm4Kp2"

REGISTER_TRUNK = {
    "trunkname": "CarrierOne",
    "trunktype": "register",
    "host": "sip.carrier-one.example",
    "port": "5080",
    "domain": "carrier-one.example",
    "username": "88017734",
    "authname": "88017734",
    "fromuser": "",
    "password": SECRET,
    "extensionsdod": "4402100-helpdesk-1000,4402101-billing-1001",
    "extensionsgroupdod": "4402200-sales-All staff",
}


@pytest.fixture(scope="module")
def receiver() -> Iterator[EventReceiver]:
    yield from module_receiver()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PbxProcess]:
    yield from module_pbx(tmp_path_factory, "trunks")


@pytest.fixture(scope="module")
def api(server: PbxProcess, receiver: EventReceiver) -> Api:
    return Api(server, server.login(port=receiver.port))


def add(api: Api, **fields: Any) -> str:
    return str(api.ok("trunk/add_siptrunk", fields)["id"])


def peer(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "trunkname": name,
        "trunktype": "peer",
        "host": "10.40.2.15",
        "domain": "10.40.2.15",
    } | extra


def query_one(api: Api, trunk_id: str) -> dict[str, str]:
    return api.ok("trunk/query_siptrunk", {"id": trunk_id})["trunks"][0]


def config_changes(receiver: EventReceiver, name: str) -> list[str]:
    return [e["operation"] for e in receiver.named("ConfigChange") if e.get("trunkname") == name]


# -- success paths and wire shapes -------------------------------------------------------------


def test_register_trunk_round_trip_in_wire_shape(api: Api) -> None:
    answer = api("trunk/add_siptrunk", REGISTER_TRUNK)
    assert answer["status"] == "Success" and answer["id"].isdigit()
    assert list(answer) == ["status", "id"] or set(answer) == {"status", "id"}
    trunk = query_one(api, answer["id"])
    assert list(trunk) == [
        "id",
        "trunkname",
        "trunktype",
        "host",
        "port",
        "domain",
        "username",
        "authname",
        "fromuser",
        "password",
        "extensionsdod",
        "extensionsgroupdod",
    ]
    assert trunk == {"id": answer["id"], **REGISTER_TRUNK}
    listed = api.ok("trunk/list")["trunklist"]
    mine = [t for t in listed if t["trunkname"] == "CarrierOne"]
    # a live state (30-trunks.md): its provider's name does not resolve here
    assert len(mine) == 1 and mine[0]["status"] in {"Registering", "Failure"}
    assert mine == [
        {"trunkname": "CarrierOne", "id": answer["id"], "status": mine[0]["status"], "type": "SIP"}
    ]


def test_peer_and_account_trunks_take_numbers_and_show_their_own_fields(api: Api) -> None:
    peer_id = add(
        api,
        trunkname="HQ-Gateway",
        trunktype="peer",
        host="172.20.8.3",
        port=5062,
        domain="172.20.8.3",
        username="ignored",
        password="ignored",
    )
    account_id = add(
        api,
        trunkname="Branch.PBX",
        trunktype="ACCOUNT",
        username="branch77",
        authname="branch77",
        password="pw77",
        host="ignored.example",
    )
    assert query_one(api, peer_id) == {
        "id": peer_id,
        "trunkname": "HQ-Gateway",
        "trunktype": "peer",
        "host": "172.20.8.3",
        "port": "5062",
        "domain": "172.20.8.3",
        "extensionsdod": "",
        "extensionsgroupdod": "",
    }
    assert query_one(api, account_id) == {
        "id": account_id,
        "trunkname": "Branch.PBX",
        "trunktype": "account",
        "username": "branch77",
        "authname": "branch77",
        "password": "pw77",
        "extensionsdod": "",
        "extensionsgroupdod": "",
    }
    # omitted port defaults to 5060; didsetting is echoed only when set; IPv6 hosts work
    v6 = add(
        api,
        **peer("V6Peer", host="2001:db8::5", domain="2001:db8::5", didsetting="Support-4402300"),
    )
    info = query_one(api, v6)
    assert info["port"] == "5060" and info["didsetting"] == "Support-4402300"
    both = api.ok("trunk/query_siptrunk", {"id": f"{peer_id}, {account_id},{peer_id},99999"})
    assert [t["id"] for t in both["trunks"]] == sorted([peer_id, account_id], key=int)


def test_update_changes_only_the_fields_sent(api: Api) -> None:
    trunk_id = add(api, **peer("Updatable"))
    assert (
        api("trunk/update_siptrunk", {"id": int(trunk_id), "trunktype": "peer", "port": 5070}) == OK
    )
    api.ok(
        "trunk/update_siptrunk",
        {"id": trunk_id, "trunktype": "peer", "extensionsdod": "5000-front-1000"},
    )
    info = query_one(api, trunk_id)
    assert info["port"] == "5070" and info["host"] == "10.40.2.15"
    assert info["extensionsdod"] == "5000-front-1000"
    # the DOD string is replaced as a whole; "" clears it
    api.ok("trunk/update_siptrunk", {"id": trunk_id, "trunktype": "peer", "extensionsdod": ""})
    assert query_one(api, trunk_id)["extensionsdod"] == ""


def test_delete_is_all_or_nothing(api: Api) -> None:
    first, second = add(api, **peer("DelA")), add(api, **peer("DelB"))
    assert api("trunk/delete_siptrunk", {"id": f"{first},{second},987654"}) == failed("10062")
    assert len(api.ok("trunk/query_siptrunk", {"id": f"{first},{second}"})["trunks"]) == 2
    assert api("trunk/delete_siptrunk", {"id": f"{first},{second}"}) == OK
    assert api("trunk/query_siptrunk", {"id": f"{first},{second}"}) == failed("10062")


# -- errno paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "errno"),
    [
        ({"trunkname": None}, "10004"),
        ({"trunktype": None}, "10004"),
        ({"trunktype": ""}, "10004"),
        ({"host": None}, "10004"),
        ({"password": ""}, "10004"),
        ({"authname": ["88017734"]}, "10004"),  # wrong type counts as absent
        ({"trunktype": "sip"}, "10044"),
        ({"trunkname": "Carrier One"}, "10042"),
        ({"trunkname": "a,b"}, "10042"),
        ({"trunkname": "x`y"}, "10042"),
        ({"trunkname": "tab\there"}, "10042"),
        ({"trunkname": "'; DROP TABLE trunk; --"}, "10042"),
        ({"trunkname": "n" * 64}, "10042"),
        ({"trunkname": "n" * 100_000}, "10042"),
        ({"host": "bad host"}, "10045"),
        ({"host": "-leading.example"}, "10045"),
        ({"host": "h" * 256}, "10045"),
        ({"port": "0"}, "10046"),
        ({"port": 65536}, "10046"),
        ({"port": "50a"}, "10046"),
        ({"port": -5}, "10046"),
        ({"domain": "dom<ain>"}, "10047"),
        ({"username": "user name"}, "10048"),
        ({"username": "u" * 65}, "10048"),
        ({"authname": "auth|name"}, "10050"),
        ({"fromuser": "from:user"}, "10051"),
        ({"password": 'pass"word'}, "10052"),
        ({"password": "p" * 65}, "10052"),
        ({"extensionsdod": "5000-front-4999"}, "10053"),
        ({"extensionsgroupdod": "5000-front-NoSuchGroup"}, "10054"),
        ({"extensionsdod": "50x0-front-1000"}, "10055"),
        ({"extensionsdod": "1" * 33 + "-front-1000"}, "10056"),
        ({"extensionsdod": "5000-fr<nt-1000"}, "10057"),
        ({"extensionsdod": "5000-" + "n" * 32 + "-1000"}, "10058"),
        ({"extensionsdod": "5000-front"}, "10059"),
        ({"extensionsdod": "5000-a-1000,5001-b-1000"}, "10059"),
        ({"didsetting": "no-separator-here-x"}, "10059"),
    ],
)
def test_add_refuses_bad_fields(api: Api, changes: dict[str, Any], errno: str) -> None:
    body = {**REGISTER_TRUNK, "trunkname": "Refused", "username": "refused-user"}
    for key, value in changes.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    answer, detail = api.with_detail("trunk/add_siptrunk", body)
    assert answer == failed(errno)
    assert SECRET not in detail
    names = {t["trunkname"] for t in api.ok("trunk/list")["trunklist"]}
    assert "Refused" not in names


def test_uniqueness_rules(api: Api) -> None:
    add(api, **peer("Unique1"))
    assert api("trunk/add_siptrunk", peer("Unique1")) == failed("10043")
    reg = {
        **REGISTER_TRUNK,
        "trunkname": "Reg1",
        "username": "u-dup",
        "extensionsdod": "",
        "extensionsgroupdod": "",
    }
    add(api, **reg)
    assert api("trunk/add_siptrunk", {**reg, "trunkname": "Reg2"}) == failed("10049")
    add(api, **{**reg, "trunkname": "Reg3", "host": "other.example"})  # other host: allowed
    account = {
        "trunkname": "Acc1",
        "trunktype": "account",
        "username": "acc-dup",
        "authname": "a",
        "password": "p",
    }
    add(api, **account)
    assert api("trunk/add_siptrunk", {**account, "trunkname": "Acc2"}) == failed("10049")
    # an account trunk registers to us like a phone: it cannot take an extension's number
    assert api(
        "trunk/add_siptrunk", {**account, "trunkname": "Acc3", "username": "1000"}
    ) == failed("10049")


def test_update_errors(api: Api) -> None:
    trunk_id = add(api, **peer("UpdErr"))
    add(api, **peer("UpdErrOther"))
    cases = [
        ({"trunktype": "peer"}, "10004"),
        ({"id": trunk_id}, "10004"),
        ({"id": "424242", "trunktype": "peer"}, "10062"),
        ({"id": "not-a-number", "trunktype": "peer"}, "10062"),
        ({"id": trunk_id, "trunktype": "register"}, "10044"),
        ({"id": trunk_id, "trunktype": "peer", "trunkname": "UpdErrOther"}, "10043"),
        ({"id": trunk_id, "trunktype": "peer", "port": "99999"}, "10046"),
        ({"id": trunk_id, "trunktype": "peer", "host": ""}, "10045"),
        ({"id": trunk_id, "trunktype": "peer", "extensionsgroupdod": "1-x-Nope"}, "10054"),
    ]
    for body, errno in cases:
        assert api("trunk/update_siptrunk", body) == failed(errno), body
    # a failing update changes nothing, even the valid fields sent with it
    api("trunk/update_siptrunk", {"id": trunk_id, "trunktype": "peer", "port": 6000, "host": "x y"})
    assert query_one(api, trunk_id)["port"] == "5060"


def test_query_and_delete_errors(api: Api) -> None:
    assert api("trunk/query_siptrunk", {}) == failed("20007")
    assert api("trunk/query_siptrunk", {"id": ""}) == failed("10004")
    assert api("trunk/query_siptrunk", {"id": "99999,abc"}) == failed("10062")
    assert api("trunk/delete_siptrunk", {"id": "99999"}) == failed("10062")
    assert api("trunk/delete_siptrunk", {"other": 1}) == failed("10004")
    assert api.raw("trunk/add_siptrunk", b"<xml/>") == failed("10002")
    assert api.raw("trunk/add_siptrunk", b"{not json") == failed("20000")
    assert api.pbx.api("trunk/list", {}, token="0" * 32) == failed("20004")


# -- KiloPBX settings extension -------------------------------------------------------------------


def test_settings_defaults_update_and_disable(api: Api) -> None:
    trunk_id = add(api, **peer("Tunable"))
    settings = api.ok("trunk/query_settings", {"id": trunk_id})["trunksettings"][0]
    assert settings == {
        "id": trunk_id,
        "trunkname": "Tunable",
        "enabled": "yes",
        "transport": "udp",
        "outboundproxy": "",
        "codecs": "ulaw,alaw,g722,g729",
        "callerid": "",
        "callername": "",
        "maxchannels": "0",
        "dtmfmode": "rfc4733",
        "qualify": "60",
        "regexpiry": "3600",
        "identityheaders": "pai,rpid",
        "inboundcontrol": "no",
    }
    api.ok(
        "trunk/update_settings",
        {
            "id": trunk_id,
            "codecs": "G722, PCMA",
            "transport": "TLS",
            "outboundproxy": "[2001:db8::1]:5061",
            "callerid": "+4402000",
            "callername": "Front desk",
            "maxchannels": 30,
            "dtmfmode": "rfc2833",
            "qualify": 0,
            "regexpiry": "600",
            "enabled": False,
        },
    )
    settings = api.ok("trunk/query_settings", {"id": trunk_id})["trunksettings"][0]
    assert settings["codecs"] == "g722,alaw" and settings["transport"] == "tls"
    assert settings["maxchannels"] == "30" and settings["dtmfmode"] == "rfc4733"
    assert settings["enabled"] == "no" and settings["regexpiry"] == "600"
    listed = {t["trunkname"]: t["status"] for t in api.ok("trunk/list")["trunklist"]}
    assert listed["Tunable"] == "Disable"
    api.ok("trunk/update_settings", {"id": trunk_id, "enabled": "yes"})
    assert {t["trunkname"]: t["status"] for t in api.ok("trunk/list")["trunklist"]}[
        "Tunable"
    ] == "Unknown"
    # the wire-format query does not grow these fields
    assert "codecs" not in query_one(api, trunk_id)


@pytest.mark.parametrize(
    ("field", "value", "errno"),
    [
        ("codecs", "", "10910"),
        ("codecs", "ulaw,speex", "10910"),
        ("codecs", "ulaw,pcmu", "10910"),
        ("transport", "sctp", "10911"),
        ("outboundproxy", "proxy:99999", "10912"),
        ("outboundproxy", "bad proxy", "10912"),
        ("enabled", "maybe", "10913"),
        ("callerid", "12ab", "10914"),
        ("callername", "x" * 64, "10915"),
        ("maxchannels", "-1", "10916"),
        ("maxchannels", "10001", "10916"),
        ("dtmfmode", "sip", "10917"),
        ("qualify", "2", "10918"),
        ("regexpiry", "59", "10919"),
    ],
)
def test_settings_refuse_bad_values(api: Api, field: str, value: str, errno: str) -> None:
    trunk_id = api.ok("trunk/list")["trunklist"][0]["id"]
    assert api("trunk/update_settings", {"id": trunk_id, field: value}) == failed(errno)


def test_settings_of_unknown_trunk(api: Api) -> None:
    assert api("trunk/update_settings", {"id": "777777", "codecs": "ulaw"}) == failed("10062")
    assert api("trunk/query_settings", {"id": "777777"}) == failed("10062")


# -- events, concurrency, capacity, restart --------------------------------------------------------


def test_config_change_events_reach_the_application(api: Api, receiver: EventReceiver) -> None:
    trunk_id = add(api, **peer("Evented"))
    api.ok("trunk/update_siptrunk", {"id": trunk_id, "trunktype": "peer", "port": "5999"})
    api.ok("trunk/update_settings", {"id": trunk_id, "codecs": "alaw"})
    api.ok("trunk/update_siptrunk", {"id": trunk_id, "trunktype": "peer", "trunkname": "Evented2"})
    api.ok("trunk/delete_siptrunk", {"id": trunk_id})
    receiver.wait_for(lambda _events: config_changes(receiver, "Evented2") == ["add", "del"])
    assert config_changes(receiver, "Evented") == ["add", "update", "update", "del"]
    event = next(e for e in receiver.named("ConfigChange") if e.get("trunkname") == "Evented")
    assert set(event) == {"event", "type", "trunkname", "operation", "sn"}
    assert event["type"] == "trunk"
    # a refused change sends nothing
    api("trunk/add_siptrunk", peer("Evented2", port="0"))
    api.ok("trunk/add_siptrunk", peer("Marker"))
    receiver.wait_for(lambda _events: config_changes(receiver, "Marker") == ["add"])
    assert config_changes(receiver, "Evented2") == ["add", "del"]


def test_concurrent_updates_of_one_trunk_lose_nothing(api: Api) -> None:
    trunk_id = add(
        api,
        **{
            **REGISTER_TRUNK,
            "trunkname": "Contended",
            "username": "contended",
            "extensionsdod": "",
            "extensionsgroupdod": "",
        },
    )
    for round_number in range(5):
        results = run_together(
            lambda n=round_number: api(
                "trunk/update_siptrunk",
                {"id": trunk_id, "trunktype": "register", "password": f"pw{n}"},
            ),
            lambda n=round_number: api(
                "trunk/update_siptrunk",
                {"id": trunk_id, "trunktype": "register", "domain": f"d{n}.example"},
            ),
            lambda n=round_number: api(
                "trunk/update_settings", {"id": trunk_id, "maxchannels": n + 1}
            ),
        )
        assert results == [OK, OK, OK]
        info = query_one(api, trunk_id)
        assert info["password"] == f"pw{round_number}"
        assert info["domain"] == f"d{round_number}.example"
        assert info["host"] == REGISTER_TRUNK["host"]
    settings = api.ok("trunk/query_settings", {"id": trunk_id})["trunksettings"][0]
    assert settings["maxchannels"] == "5"
    # two clients adding the same name at once: exactly one wins
    results = run_together(*(lambda: api("trunk/add_siptrunk", peer("Racing")) for _ in range(4)))
    assert sorted(r["status"] for r in results) == ["Failed", "Failed", "Failed", "Success"]
    assert {r.get("errno") for r in results if r["status"] == "Failed"} == {"10043"}


def test_two_hundred_trunks(api: Api) -> None:
    ids = [
        add(api, **peer(f"Bulk{index:03d}", host=f"10.9.{index // 200}.{index % 200 + 1}"))
        for index in range(200)
    ]
    assert len(set(ids)) == 200
    listed = {t["trunkname"] for t in api.ok("trunk/list")["trunklist"]}
    assert {f"Bulk{index:03d}" for index in range(200)} <= listed
    assert len(api.ok("trunk/query_siptrunk", {"id": ",".join(ids)})["trunks"]) == 200


def test_restart_keeps_everything_and_passwords_stay_out_of_the_log(api: Api) -> None:
    before_trunks = api.ok("trunk/query_siptrunk", {"id": "all"})
    before_settings = api.ok("trunk/query_settings", {"id": "all"})
    api.pbx.restart()
    assert api.ok("trunk/query_siptrunk", {"id": "all"}) == before_trunks
    assert api.ok("trunk/query_settings", {"id": "all"}) == before_settings
    log = api.pbx.log_path.read_text(errors="replace")
    assert SECRET not in log and "pw4" not in log


def test_limit_and_empty_answers(tmp_path_factory: pytest.TempPathFactory) -> None:
    for small in module_pbx(tmp_path_factory, "trunk-limit", {"KILOPBX_MAX_TRUNKS": "2"}):
        api = Api(small, small.login())
        assert api("trunk/list") == {"status": "Success", "trunklist": []}
        assert api("trunk/query_siptrunk", {"id": "all"}) == {"status": "Success", "trunks": []}
        assert api("trunk/delete_siptrunk", {"id": "all"}) == OK
        add(api, **peer("One"))
        add(api, **peer("Two"))
        assert api("trunk/add_siptrunk", peer("Three")) == failed("10060")
        assert api("trunk/delete_siptrunk", {"id": "all"}) == OK
        assert api("trunk/list")["trunklist"] == []
