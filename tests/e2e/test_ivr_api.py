"""ivr/query, ivr/update (spec 40) and the KiloPBX extensions ivr/add, ivr/delete,
ivr/query_destinations, ivr/update_destinations against a running PBX."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.groups_helpers import HOSTILE_TEXTS, NON_SCALARS, GroupApi, concurrently, module_pbx
from tests.harness import PbxProcess

SETTINGS = {
    "number": "7301",
    "ivrname": "MainMenu2",
    "prompt": "[Default]",
    "promptrepeat": "2",
    "responsetimeout": "5",
    "digittimeout": "2",
    "dialext": "on",
    "dialoutboundroutes": "off",
    "dialtocheckvoicemail": "on",
}


@pytest.fixture(scope="module")
def pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PbxProcess]:
    yield from module_pbx(tmp_path_factory, "ivr")


@pytest.fixture(scope="module")
def api(pbx: PbxProcess) -> GroupApi:
    api = GroupApi(pbx)
    api.add_extension("2101")
    api.ok(
        "ivr/add",
        {
            "number": "7301",
            "ivrname": "MainMenu2",
            "promptrepeat": 2,
            "responsetimeout": "5",
            "digittimeout": 2,
            "dialtocheckvoicemail": "ON",
        },
    )
    return api


def test_default_menu_points_at_the_default_groups(api: GroupApi) -> None:
    ivr = api.ok("ivr/query", {"number": "6200"})["ivr"][0]
    assert ivr["ivrname"] == "MainMenu" and ivr["prompt"] == "[Default]"
    destinations = api.ok("ivr/query_destinations", {"number": "6200"})["ivrdestinations"][0]
    assert destinations["keys"] == [
        {"key": "1", "desttype": "ringgroup", "dest": "6300"},
        {"key": "2", "desttype": "queue", "dest": "6400"},
        {"key": "3", "desttype": "conference", "dest": "6500"},
    ]
    assert (destinations["timeoutdesttype"], destinations["timeoutdest"]) == ("ringgroup", "6300")


def test_query_has_the_exact_wire_shape(api: GroupApi) -> None:
    assert api.ok("ivr/query", {"number": 7301}) == {"status": "Success", "ivr": [SETTINGS]}
    both = api.ok("ivr/query", {"number": "7301, 6200,9999"})["ivr"]
    assert [i["number"] for i in both] == ["6200", "7301"]
    assert [i["number"] for i in api.ok("ivr/query", {"number": "all"})["ivr"]] == ["6200", "7301"]
    # the v1.1 selector name is an alias
    assert api.ok("ivr/query", {"ivrid": "7301"})["ivr"] == [SETTINGS]


def test_update_changes_only_what_is_sent(api: GroupApi) -> None:
    api.ok("ivr/add", {"number": "7302", "ivrname": "AfterHours"})
    api.ok(
        "ivr/update",
        {
            "number": "7302",
            "ivrname": "Weekend",
            "promptrepeat": "3",
            "responsetimeout": 6,
            "dialext": "Off",
            "prompt": "ignored.wav",
            "ivrnumber": "7399",
        },
    )
    ivr = api.ok("ivr/query", {"number": "7302"})["ivr"][0]
    assert ivr == {
        "number": "7302",
        "ivrname": "Weekend",
        "prompt": "[Default]",
        "promptrepeat": "3",
        "responsetimeout": "6",
        "digittimeout": "3",
        "dialext": "off",
        "dialoutboundroutes": "off",
        "dialtocheckvoicemail": "off",
    }
    api.ok("ivr/update", {"ivrid": 7302, "dialoutboundroutes": "on", "selectedrouters": "Out1"})
    ivr = api.ok("ivr/query", {"number": "7302"})["ivr"][0]
    assert (ivr["dialoutboundroutes"], ivr["selectedrouters"]) == ("on", "Out1")
    api.ok("ivr/delete", {"number": "7302"})


def test_errors(api: GroupApi) -> None:
    api.fails("ivr/query", {}, "20007")
    api.fails("ivr/query", {"number": ""}, "10004")
    api.fails("ivr/query", {"number": "9999"}, "10012")
    api.fails("ivr/update", {"dialext": "on"}, "10004")
    api.fails("ivr/update", {"number": "9999", "dialext": "on"}, "10012")
    for field, value in [
        ("ivrname", "has space"),
        ("ivrname", "x" * 32),
        ("ivrname", "semi;colon"),
        ("ivrname", "back`tick"),
        ("promptrepeat", 0),
        ("promptrepeat", "6"),
        ("responsetimeout", "11"),
        ("digittimeout", 0),
        ("digittimeout", "2.5"),
        ("dialext", "yes"),
        ("dialoutboundroutes", "1"),
        ("dialtocheckvoicemail", ""),
    ]:
        api.fails("ivr/update", {"number": "7301", field: value}, "10018")
    # all or nothing: a bad field keeps the good ones from being applied
    api.fails("ivr/update", {"number": "7301", "ivrname": "Fine", "promptrepeat": 9}, "10018")
    assert api.ok("ivr/query", {"number": "7301"})["ivr"] == [SETTINGS]
    api.fails("ivr/add", {"number": "7303"}, "10004")
    api.fails("ivr/add", {"number": "73x3", "ivrname": "Bad"}, "10018")
    api.fails("ivr/delete", {"number": "9999"}, "10012")
    api.fails("ivr/delete", {"number": "7301,9999"}, "10012")  # nothing deleted
    api.ok("ivr/query", {"number": "7301"})


@pytest.mark.parametrize("bad", [*HOSTILE_TEXTS, *NON_SCALARS])
def test_hostile_values_change_nothing(api: GroupApi, bad: object) -> None:
    for field in ("promptrepeat", "responsetimeout", "digittimeout", "ivrname"):
        if field == "ivrname" and bad in ("١٢٣٤", 2.5):
            continue  # perfectly good names
        api.fails("ivr/update", {"number": "7301", field: bad}, "10018")
    if not isinstance(bad, bool):
        api.fails("ivr/update", {"number": "7301", "dialext": bad}, "10018")
    answer, _ = api.raw("ivr/add", {"number": bad, "ivrname": "x"})
    assert answer["status"] == "Failed"
    answer, _ = api.raw("ivr/query", {"number": bad})
    assert answer["status"] == "Failed"
    assert api.ok("ivr/query", {"number": "7301"})["ivr"] == [SETTINGS]


def test_json_booleans_work_for_switches_only(api: GroupApi) -> None:
    api.ok("ivr/add", {"number": "7340", "ivrname": "Bools", "dialext": False})
    api.ok("ivr/update", {"number": "7340", "dialtocheckvoicemail": True})
    ivr = api.ok("ivr/query", {"number": "7340"})["ivr"][0]
    assert (ivr["dialext"], ivr["dialtocheckvoicemail"]) == ("off", "on")
    api.fails("ivr/update", {"number": "7340", "ivrname": True}, "10018")
    api.fails("ivr/update", {"number": "7340", "promptrepeat": True}, "10018")
    api.ok("ivr/delete", {"number": "7340"})


def test_destinations(api: GroupApi) -> None:
    api.ok(
        "ivr/update_destinations",
        {
            "number": "7301",
            "keys": [
                {"key": 1, "desttype": "extension", "dest": 2101},
                {"key": "#", "desttype": "IVR", "dest": "6200"},
                {"key": "0", "desttype": "hangup"},
            ],
            "timeoutdesttype": "queue",
            "timeoutdest": "6400",
            "invaliddesttype": "voicemail",
            "invaliddest": "2101",
        },
    )
    got = api.ok("ivr/query_destinations", {"number": "7301"})["ivrdestinations"][0]
    assert got == {
        "number": "7301",
        "keys": [
            {"key": "0", "desttype": "hangup", "dest": ""},
            {"key": "1", "desttype": "extension", "dest": "2101"},
            {"key": "#", "desttype": "ivr", "dest": "6200"},
        ],
        "timeoutdesttype": "queue",
        "timeoutdest": "6400",
        "invaliddesttype": "voicemail",
        "invaliddest": "2101",
    }
    api.ok("ivr/update_destinations", {"number": "7301", "keys": [{"key": "0", "desttype": ""}]})
    keys = api.ok("ivr/query_destinations", {"number": "7301"})["ivrdestinations"][0]["keys"]
    assert [k["key"] for k in keys] == ["1", "#"]
    # ivr/update ignores destination fields (spec 40: not carried by the wire format)
    api.ok("ivr/update", {"number": "7301", "timeoutdesttype": "hangup"})
    got = api.ok("ivr/query_destinations", {"number": "7301"})["ivrdestinations"][0]
    assert got["timeoutdesttype"] == "queue"
    for bad in [
        {"keys": [{"key": "A", "desttype": "hangup"}]},
        {"keys": [{"key": "1", "desttype": "extension", "dest": "7777"}]},
        {"keys": [{"key": "1", "desttype": "queue", "dest": "6999"}]},
        {"keys": [{"key": "1", "desttype": "outroute", "dest": "x"}]},
        {"keys": "1=2101"},
        {"keys": [1]},
        {"timeoutdesttype": "ringgroup"},
        {"timeoutdest": "6999"},
        {"invaliddesttype": "conference", "invaliddest": "abc"},
    ]:
        api.fails("ivr/update_destinations", {"number": "7301", **bad}, "10018")
    api.fails("ivr/update_destinations", {"number": "9999"}, "10012")
    api.fails("ivr/query_destinations", {"number": "9999"}, "10012")


def test_number_collisions_name_the_holder(api: GroupApi) -> None:
    detail = api.fails("ivr/add", {"number": "2101", "ivrname": "x"}, "10100")
    assert detail == 'number 2101 is used by extension "Guest 2101" (2101)'
    detail = api.fails("ivr/add", {"number": "6500", "ivrname": "x"}, "10100")
    assert 'conference room "Meeting Room" (6500)' in detail
    detail = api.fails("ivr/add", {"number": "*97", "ivrname": "x"}, "10018")
    detail = api.fails("queue/add", {"number": "7301", "queuename": "x"}, "10100")
    assert 'IVR "MainMenu2" (7301)' in detail


def test_referenced_ivr_cannot_be_deleted(api: GroupApi) -> None:
    api.ok("ivr/add", {"number": "7310", "ivrname": "Sub"})
    api.ok(
        "ivr/add",
        {
            "number": "7311",
            "ivrname": "Top",
            "keys": [{"key": "5", "desttype": "ivr", "dest": "7310"}],
        },
    )
    detail = api.fails("ivr/delete", {"number": "7310"}, "10018")
    assert "key 5 of IVR 7311" in detail
    api.ok("ivr/delete", {"number": "7311,7310"})


def test_deleted_extension_is_unmapped(api: GroupApi) -> None:
    api.add_extension("2108")
    api.ok(
        "ivr/add",
        {
            "number": "7320",
            "ivrname": "Temp",
            "keys": [{"key": "8", "desttype": "extension", "dest": "2108"}],
            "timeoutdesttype": "extension",
            "timeoutdest": "2108",
        },
    )
    api.ok("extension/delete", {"number": "2108"})
    got = api.ok("ivr/query_destinations", {"number": "7320"})["ivrdestinations"][0]
    assert got["keys"] == []
    assert (got["timeoutdesttype"], got["timeoutdest"]) == ("hangup", "")
    api.ok("ivr/delete", {"number": "7320"})


def test_concurrent_updates_lose_nothing(api: GroupApi) -> None:
    api.ok("ivr/add", {"number": "7330", "ivrname": "Race"})
    concurrently(
        lambda: api.ok("ivr/update", {"number": "7330", "ivrname": "Raced"}),
        lambda: api.ok("ivr/update", {"number": "7330", "promptrepeat": 5}),
        lambda: api.ok("ivr/update", {"number": "7330", "digittimeout": 9}),
        lambda: api.ok("ivr/update", {"number": "7330", "dialext": "off"}),
    )
    ivr = api.ok("ivr/query", {"number": "7330"})["ivr"][0]
    assert (ivr["ivrname"], ivr["promptrepeat"], ivr["digittimeout"], ivr["dialext"]) == (
        "Raced",
        "5",
        "9",
        "off",
    )


def test_restart_keeps_everything(api: GroupApi, pbx: PbxProcess) -> None:
    before = api.ok("ivr/query", {"number": "all"})
    keys_before = api.ok("ivr/query_destinations", {"number": "all"})
    pbx.restart()
    api.relogin()
    assert api.ok("ivr/query", {"number": "all"}) == before
    assert api.ok("ivr/query_destinations", {"number": "all"}) == keys_before


def test_an_ivr_prompt_must_exist(api: GroupApi) -> None:
    import base64
    import io
    import wave

    api.fails("ivr/add", {"number": "7309", "ivrname": "P", "prompt": "welcome_main.wav"}, "10018")
    api.fails("ivr/update_destinations", {"number": "7301", "prompt": "nope"}, "10018")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1), wav.setsampwidth(2), wav.setframerate(16000)
        wav.writeframes(bytes(3200))
    data = base64.b64encode(buffer.getvalue()).decode()
    api.ok("prompt/upload", {"name": "welcome_main", "data": data})
    api.ok("ivr/add", {"number": "7309", "ivrname": "P", "prompt": "welcome_main.wav"})
    (ivr,) = api.ok("ivr/query", {"number": "7309"})["ivr"]
    assert ivr["prompt"] == "welcome_main.wav"
    api.ok("ivr/update_destinations", {"number": "7309", "prompt": "[Default]"})
    assert api.ok("ivr/query", {"number": "7309"})["ivr"][0]["prompt"] == "[Default]"
    api.ok("ivr/update", {"number": "7309", "prompt": "welcome_main.wav"})  # ignored (spec 40)
    assert api.ok("ivr/query", {"number": "7309"})["ivr"][0]["prompt"] == "[Default]"
    api.ok("ivr/delete", {"number": "7309"})


def test_unusual_wav_uploads_are_converted(api: GroupApi, pbx: PbxProcess) -> None:
    """A 44.1 kHz stereo 32-bit float WAV (an audio editor's default export) and a
    16-bit WAV written to a pipe (its sizes left unknown) become 8 and 16 kHz prompts."""
    import base64
    import struct
    import wave

    from tests.media_audio import dominant_frequency, float_wav, tone

    pcm = tone(500, 44100, 800)
    values = [s / 32768.0 for s in struct.unpack(f"={len(pcm) // 2}h", pcm)]
    exported = float_wav(44100, 2, [v for v in values for _ in range(2)])
    piped = tone(700, 8000, 800)
    head = struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 0xFFFFFFFF, b"WAVE", b"fmt ", 16, 1, 1,
                       8000, 16000, 2, 16, b"data", 0xFFFFFFFF)  # fmt: skip
    for name, data, hz in (("float_export", exported, 500), ("piped", head + piped, 700)):
        api.ok("prompt/upload", {"name": name, "data": base64.b64encode(data).decode()})
        for folder, rate in (("", 8000), ("16k/", 16000)):
            path = pbx.data_dir / "prompts" / "custom" / f"{folder}{name}.wav"
            with wave.open(str(path), "rb") as audio:
                assert (audio.getframerate(), audio.getnchannels()) == (rate, 1)
                assert abs(audio.getnframes() - rate * 0.8) <= 8
                frames = audio.readframes(audio.getnframes())
            assert abs(dominant_frequency(frames, rate) - hz) < 30
