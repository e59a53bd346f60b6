"""The voicemail boxes on disk: spec 60's numbering, details beside each message,
lengths from the WAV itself (also a truncated one), and no way out of the box."""

from __future__ import annotations

import json
import struct
import wave
from pathlib import Path

import pytest

from kilopbx.apps.voicemail.store import READ, UNREAD, VoicemailStore, wav_seconds


def write_wav(path: Path, seconds: float, rate: int = 8000) -> None:
    with wave.open(str(path), "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(rate)
        audio.writeframes(b"\x00\x01" * int(rate * seconds))


def test_messages_are_numbered_after_the_highest(tmp_path: Path) -> None:
    store = VoicemailStore(tmp_path)
    first = store.new_message("2003", "2001", 1000.0)
    assert first.name == "msg0000.wav"
    write_wav(first, 2.4)
    second = store.new_message("2003", "0611122233", 2000.0)
    assert second.name == "msg0001.wav"  # reserved by its details even before audio
    write_wav(second, 5.0)
    first.unlink()
    first.with_suffix(".json").unlink()
    assert store.new_message("2003", "", 3000.0).name == "msg0002.wav"  # no renumbering


def test_listing_reads_details_and_lengths(tmp_path: Path) -> None:
    store = VoicemailStore(tmp_path)
    new = store.new_message("2003", "2001", 2000.0)
    write_wav(new, 3.9)
    old_folder = tmp_path / "2003" / READ
    old_folder.mkdir()
    write_wav(old_folder / "msg0000.wav", 12.0)  # no details: still listed
    messages = store.messages("2003")
    # oldest first: the unread one arrived at 2000, the read one has only its file time
    first = messages[0]
    assert (first.file, first.status, first.caller, first.seconds) == (
        "msg0000.wav",
        UNREAD,
        "2001",
        3,
    )
    assert {(m.file, m.status, m.seconds) for m in messages} == {
        ("msg0000.wav", UNREAD, 3), ("msg0000.wav", READ, 12)
    }  # fmt: skip
    assert store.messages("2002") == []


def test_a_message_cut_by_a_crash_still_has_a_length(tmp_path: Path) -> None:
    path = tmp_path / "msg0000.wav"
    write_wav(path, 4.0)
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, 40, 0xFFFFFFFF)  # a data size never rewritten
    path.write_bytes(bytes(data[: 44 + 16000 * 2]))
    assert wav_seconds(path) in (2, 4)
    path.write_bytes(b"RIFF garbage")
    assert wav_seconds(path) == 0


def test_broken_details_do_not_hide_a_message(tmp_path: Path) -> None:
    store = VoicemailStore(tmp_path)
    path = store.new_message("2003", "2001", 1.0)
    write_wav(path, 1.0)
    path.with_suffix(".json").write_text("{not json")
    [message] = store.messages("2003")
    assert message.caller == "" and message.seconds == 1
    path.with_suffix(".json").write_text(json.dumps(["a list"]))
    assert store.messages("2003")[0].caller == ""


def test_too_short_messages_are_discarded(tmp_path: Path) -> None:
    store = VoicemailStore(tmp_path)
    path = store.new_message("2003", "2001", 1.0)
    write_wav(path, 0.2)
    store.discard(path)
    assert store.messages("2003") == []


@pytest.mark.parametrize("name", ["", "../2003", "2003/..", "20a3", "1" * 17, "٢٠٠٣"])
def test_no_box_outside_the_store(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError):
        VoicemailStore(tmp_path).box(name)


def test_counts_delete_and_mark_read(tmp_path: Path) -> None:
    store = VoicemailStore(tmp_path)
    changed: list[str] = []
    store.watchers.append(changed.append)
    assert store.counts("2003") == (0, 0)
    paths = [store.new_message("2003", "2001", float(i)) for i in range(3)]
    for path in paths:
        write_wav(path, 1.0)
    assert store.counts("2003") == (3, 0)
    assert store.mark_read("2003", "msg0001.wav") == "msg0000.wav"
    assert store.mark_read("2003", "msg0001.wav") is None  # already moved
    assert store.mark_read("2003", "../unread/msg0000.wav") is None
    assert store.counts("2003") == (2, 1)
    assert [m.caller for m in store.messages("2003") if m.status == READ] == ["2001"]
    store.recording.add(paths[2])
    assert store.delete("2003", (UNREAD,), None) == 1  # the one being recorded stays
    assert store.delete("2003", (READ, UNREAD), ["msg0000.wav", "../x.wav", "nope"]) == 1
    assert store.counts("2003") == (1, 0)
    store.changed("2003")
    assert changed == ["2003"]


def test_message_path_refuses_escapes_partial_and_recording(tmp_path: Path) -> None:
    store = VoicemailStore(tmp_path)
    path = store.new_message("2003", "2001", 1.0)
    write_wav(path, 1.0)
    assert store.message_path("2003", UNREAD, "msg0000.wav") == path
    for status, name in ((READ, "msg0000.wav"), ("all", "msg0000.wav"), (UNREAD, "../x.wav"),
                         ("..", "msg0000.wav"), (UNREAD, "msg0001.wav")):  # fmt: skip
        assert store.message_path("2003", status, name) is None
    store.recording.add(path)
    assert store.message_path("2003", UNREAD, "msg0000.wav") is None
    store.recording.clear()
    path.write_bytes(b"RIFF\x00")  # half a header
    assert store.message_path("2003", UNREAD, "msg0000.wav") is None
    with pytest.raises(ValueError):
        store.message_path("../2003", UNREAD, "msg0000.wav")
