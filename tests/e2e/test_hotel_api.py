"""wakeupcall/create, query, update and delete (spec 61) against a running PBX."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.groups_helpers import HOSTILE_TEXTS, NON_SCALARS, GroupApi, concurrently, module_pbx
from tests.harness import PbxProcess


@pytest.fixture(scope="module")
def pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PbxProcess]:
    pbx_iter = module_pbx(tmp_path_factory, "hotel")
    pbx = next(pbx_iter)
    prompts = pbx.data_dir / "prompts" / "custom"
    prompts.mkdir(parents=True, exist_ok=True)  # the prompts feature makes it at start
    (prompts / "good-morning-en.wav").write_bytes(b"RIFF")
    yield pbx
    next(pbx_iter, None)


@pytest.fixture(scope="module")
def api(pbx: PbxProcess) -> GroupApi:
    api = GroupApi(pbx)
    for number in ("4410", "4411", "4412", "4413", "4414"):
        api.add_extension(number)
    return api


def alarms(api: GroupApi, number: str) -> list[dict[str, str]]:
    answer = api.ok("wakeupcall/query", {"number": number})
    if "wakeups" not in answer:
        return []
    return answer["wakeups"][0]["wakeup"]


def test_create_query_update_delete_spec_examples(api: GroupApi) -> None:
    api.ok(
        "wakeupcall/create",
        {
            "number": "4410,4411",
            "wakeup": [
                {
                    "time": "06:45",
                    "type": "custom",
                    "weekdays": "1",
                    "repeats": "2",
                    "repeatinterval": "10",
                    "prompt": "good-morning-en",
                },
                {"time": "09:00", "type": "everyday"},  # only the first is used
            ],
        },
    )
    api.ok("wakeupcall/create", {"number": 4410, "wakeup": [{"time": "7:30", "type": "onetime"}]})
    answer = api.ok("wakeupcall/query", {"number": "4410,4411"})
    first, second, third = (
        answer["wakeups"][0]["wakeup"][0]["wakeupid"],
        answer["wakeups"][0]["wakeup"][1]["wakeupid"],
        answer["wakeups"][1]["wakeup"][0]["wakeupid"],
    )
    assert answer == {
        "status": "Success",
        "wakeups": [
            {
                "number": "4410",
                "wakeup": [
                    {
                        "wakeupid": first,
                        "time": "06:45",
                        "type": "custom",
                        "weekdays": "1",
                        "repeats": "2",
                        "repeatinterval": "10",
                        "prompt": "good-morning-en",
                    },
                    {
                        "wakeupid": second,
                        "time": "07:30",
                        "type": "onetime",
                        "repeats": "1",
                        "repeatinterval": "5",
                        "prompt": "macroform-cold_day",
                    },
                ],
            },
            {
                "number": "4411",
                "wakeup": [
                    {
                        "wakeupid": third,
                        "time": "06:45",
                        "type": "custom",
                        "weekdays": "1",
                        "repeats": "2",
                        "repeatinterval": "10",
                        "prompt": "good-morning-en",
                    }
                ],
            },
        ],
    }
    assert len({first, second, third}) == 3
    # update with an object; omitted optional fields keep their values, weekdays go
    api.ok(
        "wakeupcall/update",
        {
            "number": "4410",
            "wakeupid": first,
            "wakeup": {"time": "08:15", "type": "everyday", "repeats": 3},
        },
    )
    updated = next(a for a in alarms(api, "4410") if a["wakeupid"] == first)
    assert updated == {
        "wakeupid": first,
        "time": "08:15",
        "type": "everyday",
        "repeats": "3",
        "repeatinterval": "10",
        "prompt": "good-morning-en",
    }
    # an older client's one-element array works too
    api.ok(
        "wakeupcall/update",
        {
            "number": "4410",
            "wakeupid": int(first),
            "wakeup": [{"time": "08:20", "type": "custom", "weekdays": "5,1,3"}],
        },
    )
    updated = next(a for a in alarms(api, "4410") if a["wakeupid"] == first)
    assert (updated["time"], updated["weekdays"]) == ("08:20", "1,3,5")
    api.ok("wakeupcall/delete", {"number": "4410", "wakeupid": f"{first},{second}"})
    assert alarms(api, "4410") == []
    api.ok("wakeupcall/delete", {"number": "4410,4411"})  # check-out
    assert api.ok("wakeupcall/query", {"number": "4410,4411"}) == {"status": "Success"}
    # ids are never reused
    api.ok(
        "wakeupcall/create", {"number": "4410", "wakeup": [{"time": "05:00", "type": "everyday"}]}
    )
    assert int(alarms(api, "4410")[0]["wakeupid"]) > int(third)


@pytest.mark.parametrize(
    "alarm",
    [
        {"time": "24:00", "type": "everyday"},
        {"time": "23:60", "type": "everyday"},
        {"time": "7", "type": "everyday"},
        {"time": "07:5", "type": "everyday"},
        {"time": "-1:30", "type": "everyday"},
        {"time": "07:30:00", "type": "everyday"},
        {"time": "０７:３０", "type": "everyday"},
        {"time": 730, "type": "everyday"},
        {"time": "07:30", "type": "weekly"},
        {"time": "07:30", "type": "custom", "weekdays": "7"},
        {"time": "07:30", "type": "custom", "weekdays": "1,x"},
        {"time": "07:30", "type": "custom", "weekdays": "12"},
        {"time": "07:30", "type": "everyday", "repeats": 0},
        {"time": "07:30", "type": "everyday", "repeats": "4"},
        {"time": "07:30", "type": "everyday", "repeatinterval": "0"},
        {"time": "07:30", "type": "everyday", "repeatinterval": 61},
        {"time": "07:30", "type": "everyday", "repeats": True},
        {"time": "07:30", "type": "everyday", "repeats": [1]},
    ],
)
def test_invalid_alarms_answer_10020(api: GroupApi, alarm: dict[str, object]) -> None:
    api.fails("wakeupcall/create", {"number": "4412", "wakeup": [alarm]}, "10020")
    assert alarms(api, "4412") == []


def test_missing_fields_and_unknowns(api: GroupApi) -> None:
    api.fails("wakeupcall/create", {}, "20007")
    api.fails("wakeupcall/create", {"wakeup": [{"time": "07:30", "type": "everyday"}]}, "10004")
    api.fails("wakeupcall/create", {"number": "4412"}, "10004")
    api.fails("wakeupcall/create", {"number": "4412", "wakeup": []}, "10004")
    api.fails("wakeupcall/create", {"number": "4412", "wakeup": [{"type": "everyday"}]}, "10004")
    api.fails("wakeupcall/create", {"number": "4412", "wakeup": [{"time": "07:30"}]}, "10004")
    api.fails(
        "wakeupcall/create",
        {"number": "4412", "wakeup": [{"time": "07:30", "type": "custom"}]},
        "10004",
    )
    api.fails("wakeupcall/create", {"number": "4412", "wakeup": "07:30"}, "10020")
    api.fails(
        "wakeupcall/create",
        {"number": "9999", "wakeup": [{"time": "07:30", "type": "everyday"}]},
        "10006",
    )
    api.fails(
        "wakeupcall/create",
        {"number": "all", "wakeup": [{"time": "07:30", "type": "everyday"}]},
        "10006",
    )
    # all or nothing over several rooms
    api.fails(
        "wakeupcall/create",
        {"number": "4412,9999", "wakeup": [{"time": "07:30", "type": "everyday"}]},
        "10006",
    )
    assert alarms(api, "4412") == []
    api.fails(
        "wakeupcall/create",
        {
            "number": "4412",
            "wakeup": [{"time": "07:30", "type": "everyday", "prompt": "no-such-file"}],
        },
        "10023",
    )
    api.fails(
        "wakeupcall/create",
        {
            "number": "4412",
            "wakeup": [{"time": "07:30", "type": "everyday", "prompt": "../../kilopbx"}],
        },
        "10023",
    )
    api.fails("wakeupcall/query", {"number": "9999"}, "10006")
    assert api.ok("wakeupcall/query", {"number": "4412,9999"}) == {"status": "Success"}


def test_duplicates_and_the_limit(api: GroupApi) -> None:
    alarm = {"time": "06:00", "type": "custom", "weekdays": "1,2"}
    api.ok("wakeupcall/create", {"number": "4413", "wakeup": [alarm]})
    detail = api.fails(
        "wakeupcall/create",
        {"number": "4413", "wakeup": [{**alarm, "weekdays": "2,1", "repeats": 3}]},
        "10022",
    )
    assert "4413" in detail
    api.ok("wakeupcall/create", {"number": "4413", "wakeup": [{**alarm, "weekdays": "1"}]})
    ids = [a["wakeupid"] for a in alarms(api, "4413")]
    api.fails("wakeupcall/update", {"number": "4413", "wakeupid": ids[1], "wakeup": alarm}, "10022")
    api.ok("wakeupcall/update", {"number": "4413", "wakeupid": ids[0], "wakeup": alarm})  # itself
    for minute in range(21):
        api.ok(
            "wakeupcall/create",
            {"number": "4413", "wakeup": [{"time": f"10:{minute:02d}", "type": "onetime"}]},
        )
    assert len(alarms(api, "4413")) == 23
    api.fails(
        "wakeupcall/create",
        {"number": "4413", "wakeup": [{"time": "11:00", "type": "onetime"}]},
        "10020",
    )
    api.ok("wakeupcall/delete", {"number": "4413", "wakeupid": "all"})


def test_update_and_delete_errors(api: GroupApi) -> None:
    api.ok(
        "wakeupcall/create", {"number": "4414", "wakeup": [{"time": "06:30", "type": "everyday"}]}
    )
    own = alarms(api, "4414")[0]["wakeupid"]
    api.ok(
        "wakeupcall/create", {"number": "4412", "wakeup": [{"time": "06:30", "type": "everyday"}]}
    )
    other = alarms(api, "4412")[0]["wakeupid"]
    new = {"time": "06:40", "type": "everyday"}
    api.fails("wakeupcall/update", {"number": "4414", "wakeup": new}, "10004")
    api.fails("wakeupcall/update", {"number": "4414", "wakeupid": own}, "10004")
    api.fails(
        "wakeupcall/update",
        {"number": "4414", "wakeupid": own, "wakeup": {"type": "everyday"}},
        "10004",
    )
    api.fails("wakeupcall/update", {"number": "9999", "wakeupid": own, "wakeup": new}, "10006")
    api.fails("wakeupcall/update", {"number": "4414", "wakeupid": other, "wakeup": new}, "10021")
    api.fails("wakeupcall/update", {"number": "4414", "wakeupid": "999999", "wakeup": new}, "10021")
    api.fails("wakeupcall/update", {"number": "4414", "wakeupid": "x1", "wakeup": new}, "10021")
    api.fails(
        "wakeupcall/update",
        {"number": "4414", "wakeupid": own, "wakeup": {**new, "time": "25:00"}},
        "10020",
    )
    api.fails(
        "wakeupcall/update",
        {"number": "4414", "wakeupid": own, "wakeup": {**new, "prompt": "nope"}},
        "10023",
    )
    api.fails("wakeupcall/delete", {"number": "4414", "wakeupid": f"{own},{other}"}, "10021")
    assert len(alarms(api, "4414")) == 1  # nothing deleted
    api.fails("wakeupcall/delete", {"number": "9999"}, "10006")
    api.fails("wakeupcall/delete", {}, "20007")
    api.ok("wakeupcall/delete", {"number": "4414,4412", "wakeupid": f"{own},{other}"})
    api.ok("wakeupcall/delete", {"number": "4414"})  # none left: still fine


@pytest.mark.parametrize("bad", [*HOSTILE_TEXTS, *NON_SCALARS])
def test_hostile_values(api: GroupApi, bad: object) -> None:
    for field in ("time", "type", "repeats", "repeatinterval"):
        alarm = {"time": "06:00", "type": "everyday", field: bad}
        answer, _ = api.raw("wakeupcall/create", {"number": "4412", "wakeup": [alarm]})
        assert answer["status"] == "Failed" and answer["errno"] in {"10020", "10004"}
    answer, _ = api.raw(
        "wakeupcall/create", {"number": bad, "wakeup": [{"time": "06:00", "type": "everyday"}]}
    )
    assert answer["status"] == "Failed"
    answer, _ = api.raw("wakeupcall/delete", {"number": "4412", "wakeupid": bad})
    assert answer["status"] == "Failed"
    assert alarms(api, "4412") == []


def test_deleted_extension_loses_its_alarms(api: GroupApi) -> None:
    api.add_extension("4419")
    api.ok(
        "wakeupcall/create", {"number": "4419", "wakeup": [{"time": "06:00", "type": "everyday"}]}
    )
    assert len(alarms(api, "4419")) == 1
    api.ok("extension/delete", {"number": "4419"})
    remaining = api.ok("wakeupcall/query", {"number": "all"}).get("wakeups", [])
    assert "4419" not in [entry["number"] for entry in remaining]
    api.add_extension("4419")  # a new guest in the room starts without the old alarms
    assert alarms(api, "4419") == []


def test_concurrent_creates_and_restart(api: GroupApi, pbx: PbxProcess) -> None:
    answers = concurrently(
        *[
            lambda m=m: api.raw(
                "wakeupcall/create",
                {"number": "4411", "wakeup": [{"time": f"05:{m:02d}", "type": "everyday"}]},
            )[0]
            for m in range(6)
        ],
        lambda: api.raw(
            "wakeupcall/create",
            {"number": "4411", "wakeup": [{"time": "05:00", "type": "everyday"}]},
        )[0],
    )
    assert sorted(a["status"] for a in answers) == ["Failed"] + ["Success"] * 6
    assert [a["time"] for a in alarms(api, "4411")] == [f"05:{m:02d}" for m in range(6)]
    first = alarms(api, "4411")[0]["wakeupid"]
    concurrently(
        lambda: api.ok(
            "wakeupcall/update",
            {
                "number": "4411",
                "wakeupid": first,
                "wakeup": {"time": "04:00", "type": "everyday", "repeats": 2},
            },
        ),
        lambda: api.ok(
            "wakeupcall/update",
            {
                "number": "4411",
                "wakeupid": first,
                "wakeup": {"time": "04:00", "type": "everyday", "repeatinterval": 30},
            },
        ),
    )
    got = alarms(api, "4411")[0]
    assert (got["time"], got["repeats"], got["repeatinterval"]) == ("04:00", "2", "30")
    before = api.ok("wakeupcall/query", {"number": "all"})
    pbx.restart()
    api.relogin()
    assert api.ok("wakeupcall/query", {"number": "all"}) == before
