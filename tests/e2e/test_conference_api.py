"""conference/query, conference/update (spec 50) and the KiloPBX extensions
conference/add and conference/delete against a running PBX."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.groups_helpers import HOSTILE_TEXTS, NON_SCALARS, GroupApi, concurrently, module_pbx
from tests.harness import PbxProcess

BOARD_ROOM = {
    "number": "7710",
    "name": "Board Room",
    "participantepassword": "5150",
    "moderatorpassword": "9043",
    "waitformoderator": "yes",
    "allowinvite": "no",
    "moderators": "3101",
    "musiconhold": "yes",
    "mute": "no",
    "prompt": "exten",
}


@pytest.fixture(scope="module")
def pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PbxProcess]:
    yield from module_pbx(tmp_path_factory, "conference")


@pytest.fixture(scope="module")
def api(pbx: PbxProcess) -> GroupApi:
    api = GroupApi(pbx)
    for number in ("3101", "3105", "3106"):
        api.add_extension(number)
    api.ok(
        "conference/add",
        {
            "number": 7710,
            "name": "Board Room",
            "participantepassword": 5150,
            "moderatorpassword": "9043",
            "waitformoderator": "YES",
            "moderators": "3101",
            "prompt": "Exten",
        },
    )
    return api


def room(api: GroupApi, number: str) -> dict[str, str]:
    return api.ok("conference/query", {"number": number})["conferences"][0]


def test_query_has_the_exact_wire_shape(api: GroupApi) -> None:
    assert api.ok("conference/query", {"number": "7710"}) == {
        "status": "Success",
        "conferences": [BOARD_ROOM],
    }
    default = room(api, "6500")
    assert (default["name"], default["prompt"], default["moderators"]) == (
        "Meeting Room",
        "default",
        "",
    )
    numbers = [r["number"] for r in api.ok("conference/query", {"number": "all"})["conferences"]]
    assert numbers == ["6500", "7710"]
    both = api.ok("conference/query", {"number": " 7710 , 9999,6500,7710"})["conferences"]
    assert [r["number"] for r in both] == ["6500", "7710"]


def test_update_spec_example(api: GroupApi) -> None:
    api.ok(
        "conference/add",
        {
            "number": "7712",
            "name": "Ops Bridge",
            "allowinvite": True,
            "moderators": "3105,3106",
            "musiconhold": "no",
            "mute": "yes",
        },
    )
    api.ok("conference/update", {"number": "7712", "moderatorpassword": "4471", "prompt": "none"})
    assert room(api, "7712") == {
        "number": "7712",
        "name": "Ops Bridge",
        "participantepassword": "",
        "moderatorpassword": "4471",
        "waitformoderator": "no",
        "allowinvite": "yes",
        "moderators": "3105,3106",
        "musiconhold": "no",
        "mute": "yes",
        "prompt": "none",
    }
    api.ok("conference/update", {"number": 7712, "moderators": "", "moderatorpassword": ""})
    assert (room(api, "7712")["moderators"], room(api, "7712")["moderatorpassword"]) == ("", "")
    api.ok("conference/delete", {"number": "7712"})


def test_errors(api: GroupApi) -> None:
    api.fails("conference/query", {}, "20007")
    api.fails("conference/query", {"number": ""}, "10004")
    api.fails("conference/query", {"number": "9999,9998"}, "10011")
    api.fails("conference/update", {"name": "x"}, "10004")
    api.fails("conference/update", {"number": "9999", "name": "x"}, "10011")
    api.fails("conference/update", {"number": "9999", "mute": "maybe"}, "10011")
    for field, value in [
        ("name", "Tom & Jerry"),
        ("name", "x" * 64),
        ("name", "back\\slash"),
        ("participantepassword", "12a"),
        ("participantepassword", "1" * 17),
        ("moderatorpassword", "5150"),  # equal to the participant PIN
        ("waitformoderator", "true"),
        ("allowinvite", "on"),
        ("musiconhold", 1),
        ("mute", ""),
        ("prompt", "beep"),
    ]:
        api.fails("conference/update", {"number": "7710", field: value}, "10101")
    api.fails("conference/update", {"number": "7710", "moderators": "3101,7777"}, "10006")
    api.fails("conference/update", {"number": "7710", "moderators": "31o1"}, "10006")
    api.fails("conference/update", {"number": "7710", "name": "Changed", "prompt": "loud"}, "10101")
    assert room(api, "7710") == BOARD_ROOM
    api.fails("conference/add", {"number": "7720"}, "10004")
    api.fails("conference/add", {"number": "x7720", "name": "x"}, "10101")
    api.fails("conference/delete", {"number": "7710,9999"}, "10011")
    assert room(api, "7710") == BOARD_ROOM


def test_pins_with_star_are_fine(api: GroupApi) -> None:
    api.ok("conference/update", {"number": "6500", "participantepassword": "12*34"})
    assert room(api, "6500")["participantepassword"] == "12*34"
    api.ok("conference/update", {"number": "6500", "participantepassword": ""})


@pytest.mark.parametrize("bad", [*HOSTILE_TEXTS, *NON_SCALARS])
def test_hostile_values_change_nothing(api: GroupApi, bad: object) -> None:
    for field in ("participantepassword", "prompt"):
        api.fails("conference/update", {"number": "7710", field: bad}, "10101")
    api.fails("conference/update", {"number": "7710", "moderators": bad}, "10006")
    if not isinstance(bad, bool):
        api.fails("conference/update", {"number": "7710", "mute": bad}, "10101")
    answer, _ = api.raw("conference/query", {"number": bad})
    assert answer["status"] == "Failed"
    assert room(api, "7710") == BOARD_ROOM


def test_number_collisions_name_the_holder(api: GroupApi) -> None:
    detail = api.fails("conference/add", {"number": "3101", "name": "x"}, "10100")
    assert detail == 'number 3101 is used by extension "Guest 3101" (3101)'
    detail = api.fails("conference/add", {"number": "6200", "name": "x"}, "10100")
    assert 'IVR "MainMenu" (6200)' in detail
    detail = api.fails(
        "paginggroup/add",
        {"number": "7710", "name": "x", "type": "paging", "member": "3101"},
        "10100",
    )
    assert 'conference room "Board Room" (7710)' in detail


def test_referenced_room_cannot_be_deleted(api: GroupApi) -> None:
    detail = api.fails("conference/delete", {"number": "6500"}, "10101")
    assert "IVR 6200" in detail


def test_deleted_extension_is_no_longer_a_moderator(api: GroupApi) -> None:
    api.add_extension("3119")
    api.ok("conference/add", {"number": "7730", "name": "Temp", "moderators": "3119,3105"})
    api.ok("extension/delete", {"number": "3119"})
    assert room(api, "7730")["moderators"] == "3105"
    api.ok("conference/delete", {"number": "7730"})


def test_concurrent_updates_lose_nothing(api: GroupApi) -> None:
    api.ok("conference/add", {"number": "7740", "name": "Race"})
    concurrently(
        lambda: api.ok("conference/update", {"number": "7740", "name": "Raced"}),
        lambda: api.ok("conference/update", {"number": "7740", "mute": "yes"}),
        lambda: api.ok("conference/update", {"number": "7740", "moderators": "3105"}),
        lambda: api.ok("conference/update", {"number": "7740", "moderatorpassword": "77"}),
    )
    got = room(api, "7740")
    assert (got["name"], got["mute"], got["moderators"], got["moderatorpassword"]) == (
        "Raced",
        "yes",
        "3105",
        "77",
    )


def test_restart_keeps_everything(api: GroupApi, pbx: PbxProcess) -> None:
    before = api.ok("conference/query", {"number": "all"})
    pbx.restart()
    api.relogin()
    assert api.ok("conference/query", {"number": "all"}) == before
