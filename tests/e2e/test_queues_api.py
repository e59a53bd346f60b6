"""queue/query, queue/update (spec 41) and the KiloPBX extensions queue/add and
queue/delete against a running PBX."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.groups_helpers import HOSTILE_TEXTS, NON_SCALARS, GroupApi, concurrently, module_pbx
from tests.harness import PbxProcess


@pytest.fixture(scope="module")
def pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PbxProcess]:
    yield from module_pbx(tmp_path_factory, "queues")


@pytest.fixture(scope="module")
def api(pbx: PbxProcess) -> GroupApi:
    api = GroupApi(pbx)
    for number in ("2100", "2105", "2106", "2107"):
        api.add_extension(number)
    api.ok("queue/add", {"number": "6802", "queuename": "Support"})
    return api


def query(api: GroupApi, number: str) -> dict[str, str]:
    queues = api.ok("queue/query", {"number": number})["queues"]
    assert len(queues) == 1
    return queues[0]


def test_spec_example_update_then_query(api: GroupApi) -> None:
    api.ok(
        "queue/update",
        {
            "number": "6802",
            "password": 4417,
            "ringstrategy": "least recent",
            "failoveraction": "Voicemail",
            "failoverdest": "2100",
            "agents": "2105,2106",
            "agenttimeout": "25",
            "wrapuptime": 15,
            "ringinuse": "OFF",
            "retry": "10",
            "maxwaittime": 600,
            "joinempty": "on",
            "leavewhenempty": "off",
            "announcepos": "on",
            "announcefreq": "60",
            "announceholdtime": "off",
            "userannounce": "none",
            "userannouncefreq": 0,
            "breakoutkey": 0,
            "breakoutaction": "ivr",
            "breakoutdest": "6200",
            "empty_defined_for_leave_empty": "2,1",
        },
    )
    assert query(api, "6802") == {
        "number": "6802",
        "queuename": "Support",
        "password": "4417",
        "ringstrategy": "Least Recent",
        "failoveraction": "Voicemail",
        "failoverdest": "2100",
        "agents": "2105,2106",
        "dynamicagents": "",
        "agenttimeout": "25",
        "agentannounce": "none",
        "wrapuptime": "15",
        "ringinuse": "off",
        "retry": "10",
        "musiconhold": "default",
        "maxwaittime": "600",
        "joinempty": "on",
        "leavewhenempty": "off",
        "joinannounce": "none",
        "announcepos": "on",
        "announcefreq": "60",
        "announceholdtime": "off",
        "userannounce": "none",
        "userannouncefreq": "0",
        "breakoutkey": "0",
        "breakoutaction": "IVR",
        "breakoutdest": "6200",
        "idannouncement": "none",
        "satisfactionsurvey": "none",
        "disallow_to_join_when_empty": "off",
        "empty_defined_for_disallow_to_join_when_empty": "1,2",
        "empty_defined_for_leave_empty": "1,2",
    }


def test_second_example_and_join_switches(api: GroupApi) -> None:
    api.ok(
        "queue/update",
        {
            "queueid": 6802,
            "queuenumber": "6899",
            "ringstrategy": "Rrmemory",
            "agents": "2105,2106,2107",
            "wrapuptime": 20,
            "maxwaittime": "900",
            "failoveraction": "Extension",
            "failoverdest": 2100,
            "disallow_to_join_when_empty": "on",
            "empty_defined_for_disallow_to_join_when_empty": "1,2,3",
            "userannounce": "stay-on-line.wav",
            "breakoutkey": "none",
            "breakoutaction": "Hangup",
        },
    )
    queue = query(api, "6802")
    assert queue["ringstrategy"] == "Rrmemory"
    assert queue["agents"] == "2105,2106,2107"
    assert (queue["joinempty"], queue["disallow_to_join_when_empty"]) == ("off", "on")
    assert queue["empty_defined_for_disallow_to_join_when_empty"] == "1,2,3"
    assert (queue["failoveraction"], queue["failoverdest"]) == ("Extension", "2100")
    assert (queue["breakoutkey"], queue["breakoutaction"], queue["breakoutdest"]) == (
        "None",
        "Hang up",
        "",
    )
    assert queue["userannounce"] == "stay-on-line.wav"
    # both switches sent: the inverse one wins
    api.ok(
        "queue/update", {"number": "6802", "joinempty": "off", "disallow_to_join_when_empty": "off"}
    )
    assert query(api, "6802")["joinempty"] == "on"
    api.ok("queue/update", {"number": "6802", "failoveraction": "Dial by Name"})
    assert query(api, "6802")["failoveraction"] == "Dial by name"


def test_query_selectors(api: GroupApi) -> None:
    api.ok("queue/add", {"number": "6803", "queuename": "Sales", "agents": "2107"})
    found = api.ok("queue/query", {"number": "6803,9999,6802"})["queues"]
    assert [q["number"] for q in found] == ["6802", "6803"]
    everything = [q["number"] for q in api.ok("queue/query", {"number": "all"})["queues"]]
    assert everything == ["6400", "6802", "6803"]
    api.fails("queue/query", {"number": "9999"}, "10013")
    api.fails("queue/query", {"number": ""}, "10004")
    api.fails("queue/query", {}, "20007")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("queuename", "two words"),
        ("queuename", "x" * 32),
        ("queuename", "a|b"),
        ("password", "12a4"),
        ("password", "1" * 128),
        ("ringstrategy", "Ring Some"),
        ("failoveraction", "Fax"),
        ("agenttimeout", 4),
        ("agenttimeout", "301"),
        ("wrapuptime", -1),
        ("wrapuptime", "3601"),
        ("retry", "301"),
        ("maxwaittime", 86401),
        ("ringinuse", "yes"),
        ("queuename", True),
        ("retry", False),
        ("joinempty", "maybe"),
        ("disallow_to_join_when_empty", 2),
        ("empty_defined_for_disallow_to_join_when_empty", "1,4"),
        ("empty_defined_for_leave_empty", ""),
        ("leavewhenempty", "true"),
        ("announcepos", "0"),
        ("announcefreq", "20"),
        ("userannouncefreq", 1201),
        ("announceholdtime", 1),
        ("userannounce", "../etc/passwd"),
        ("breakoutkey", "10"),
        ("breakoutkey", "A"),
        ("breakoutaction", "Somewhere"),
        ("agents", "2105,7777"),
        ("agents", "21a5"),
    ],
)
def test_invalid_values_answer_10019_and_change_nothing(
    api: GroupApi, field: str, value: object
) -> None:
    before = query(api, "6802")
    api.fails("queue/update", {"number": "6802", "ringstrategy": "Random", field: value}, "10019")
    assert query(api, "6802") == before


def test_destination_errors(api: GroupApi) -> None:
    for body in [
        {"failoveraction": "Queue", "failoverdest": "6802"},  # not the same queue
        {"failoveraction": "Queue", "failoverdest": "6999"},
        {"failoveraction": "IVR"},  # a new type needs its value
        {"failoveraction": "Ring Group", "failoverdest": "2105"},
        {"breakoutaction": "Extension", "breakoutdest": "9999"},
        {"breakoutaction": "Conference", "breakoutdest": "x"},
    ]:
        api.fails("queue/update", {"number": "6802", **body}, "10019")
    api.ok("queue/update", {"number": "6802", "failoveraction": "Queue", "failoverdest": 6400})


@pytest.mark.parametrize("bad", [*HOSTILE_TEXTS, *NON_SCALARS])
def test_hostile_values(api: GroupApi, bad: object) -> None:
    before = query(api, "6802")
    for field in ("agents", "retry", "ringstrategy", "breakoutkey", "announcefreq", "password"):
        api.fails("queue/update", {"number": "6802", field: bad}, "10019")
    answer, _ = api.raw("queue/update", {"number": bad, "retry": "10"})
    assert answer["status"] == "Failed"
    assert query(api, "6802") == before


def test_update_errors(api: GroupApi) -> None:
    api.fails("queue/update", {"retry": "10"}, "10004")
    api.fails("queue/update", {"number": "9999", "retry": "10"}, "10013")
    api.fails("queue/update", {"number": "9999", "retry": "bad"}, "10013")


def test_add_and_delete(api: GroupApi) -> None:
    api.fails("queue/add", {"number": "6810"}, "10004")
    api.fails("queue/add", {"queuename": "x"}, "10004")
    api.fails("queue/add", {"number": "6810", "queuename": "Bad Name"}, "10019")
    api.fails("queue/add", {"number": "6810", "queuename": "Ok", "retry": "x"}, "10019")
    api.fails("queue/query", {"number": "6810"}, "10013")
    api.ok("queue/add", {"number": 6810, "queuename": 6810, "agents": "2105", "wrapuptime": 30})
    queue = query(api, "6810")
    assert (queue["queuename"], queue["agents"], queue["wrapuptime"]) == ("6810", "2105", "30")
    api.fails("queue/delete", {"number": "6810,9999"}, "10013")
    api.ok("queue/delete", {"number": "6810"})
    api.fails("queue/query", {"number": "6810"}, "10013")
    api.fails("queue/delete", {"number": "6810"}, "10013")


def test_number_collisions_name_the_holder(api: GroupApi) -> None:
    detail = api.fails("queue/add", {"number": "2105", "queuename": "x"}, "10100")
    assert detail == 'number 2105 is used by extension "Guest 2105" (2105)'
    detail = api.fails("queue/add", {"number": "6300", "queuename": "x"}, "10100")
    assert 'ring group "Reception" (6300)' in detail
    detail = api.fails("ringgroup/add", {"number": "6802", "name": "x"}, "10100")
    assert 'queue "Support" (6802)' in detail


def test_referenced_queue_cannot_be_deleted(api: GroupApi) -> None:
    # the default IVR's key 2 leads to the default queue
    detail = api.fails("queue/delete", {"number": "6400"}, "10019")
    assert "IVR 6200" in detail


def test_deleted_extension_leaves_the_queue(api: GroupApi) -> None:
    api.add_extension("2119")
    api.ok(
        "queue/add",
        {
            "number": "6820",
            "queuename": "Leaving",
            "agents": "2105,2119",
            "failoveraction": "Voicemail",
            "failoverdest": "2119",
            "breakoutkey": "*",
            "breakoutaction": "Extension",
            "breakoutdest": "2119",
        },
    )
    api.ok("extension/delete", {"number": "2119"})
    queue = query(api, "6820")
    assert queue["agents"] == "2105"
    assert (queue["failoveraction"], queue["failoverdest"]) == ("Hang up", "")
    assert (queue["breakoutaction"], queue["breakoutdest"]) == ("Hang up", "")


def test_concurrent_updates_lose_nothing(api: GroupApi) -> None:
    api.ok("queue/add", {"number": "6830", "queuename": "Race"})
    concurrently(
        lambda: api.ok("queue/update", {"number": "6830", "retry": 20}),
        lambda: api.ok("queue/update", {"number": "6830", "wrapuptime": 40}),
        lambda: api.ok("queue/update", {"number": "6830", "agents": "2106,2107"}),
        lambda: api.ok("queue/update", {"number": "6830", "queuename": "Raced"}),
        lambda: api.ok("queue/update", {"number": "6830", "ringstrategy": "Linear"}),
    )
    queue = query(api, "6830")
    assert (queue["retry"], queue["wrapuptime"], queue["agents"]) == ("20", "40", "2106,2107")
    assert (queue["queuename"], queue["ringstrategy"]) == ("Raced", "Linear")


def test_restart_keeps_everything(api: GroupApi, pbx: PbxProcess) -> None:
    before = api.ok("queue/query", {"number": "all"})
    pbx.restart()
    api.relogin()
    assert api.ok("queue/query", {"number": "all"}) == before
