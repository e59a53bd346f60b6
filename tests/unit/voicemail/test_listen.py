"""Listening by feature code, driven by a scripted channel: the PIN tries, the keys
after each message, and the box and the MWI hook changing accordingly."""

from __future__ import annotations

import asyncio
import wave
from datetime import datetime
from pathlib import Path
from typing import Any

from kilopbx.apps.voicemail.listen import VoicemailListening
from kilopbx.apps.voicemail.store import READ, UNREAD, VoicemailStore
from kilopbx.engine.applications import Recorded, Release
from kilopbx.events.call_model import CallMember, MemberKind, MemberStatus
from tests.unit.voicemail.test_store import write_wav


class ScriptedChannel:
    """Keys arrive as the script says; every prompt plays to its end unless a key
    is waiting."""

    def __init__(self, keys: str) -> None:
        self.keys = list(keys)
        self.played: list[str] = []
        self.hung_up = False
        self.call_id = "1.1"

    def member(self, call_path: str) -> CallMember:
        return CallMember.extension("2003", "PJSIP/2003-1", MemberStatus.ANSWERED)

    async def play(self, prompt: str) -> bool:
        self.played.append(prompt)
        return True

    async def next_digit(self, timeout: float | None) -> str | None:
        return self.keys.pop(0) if self.keys else None

    async def record(self, path: str, **_: Any) -> Recorded:
        return Recorded(0.0, "failed")

    def pending_digits(self) -> int:
        return 0

    def clear_digits(self) -> None:
        pass


class Prompts:
    def source(self, name: str) -> str:
        return f"prompt:{name}"


class Db:
    """An async_sessionmaker stand-in answering the PIN query."""

    def __init__(self, pin: str | None) -> None:
        self.pin = pin

    def __call__(self) -> Db:
        return self

    async def __aenter__(self) -> Db:
        return self

    async def __aexit__(self, *_: object) -> None:
        pass

    async def scalar(self, _: object) -> str | None:
        return self.pin


def listening(tmp_path: Path, pin: str | None = "4812") -> tuple[VoicemailListening, list[str]]:
    store = VoicemailStore(tmp_path)
    for when in (1.0, 2.0):
        write_wav(store.new_message("2003", "2001", when), 0.5)
    changed: list[str] = []
    store.watchers.append(changed.append)
    return VoicemailListening(store, Prompts(), Db(pin)), changed  # type: ignore[arg-type]


def test_three_wrong_pins_say_goodbye_and_change_nothing(tmp_path: Path) -> None:
    app, changed = listening(tmp_path)
    channel = ScriptedChannel("1#2#4811#9")
    outcome = asyncio.run(app.run(channel, "*97"))  # type: ignore[arg-type]
    assert outcome == Release("voicemail: wrong PIN")
    assert channel.played.count("prompt:vm-login-incorrect") == 3
    assert channel.played[-1] == "prompt:vm-too-many-attempts"
    assert app.store.counts("2003") == (2, 0) and changed == []
    assert channel.keys == ["9"]  # nothing read after the third try


def test_save_delete_and_next(tmp_path: Path) -> None:
    app, changed = listening(tmp_path)
    channel = ScriptedChannel("4812#" + "1" + "9" + "7")  # replay then save the 1st, delete the 2nd
    outcome = asyncio.run(app.run(channel, "*97"))  # type: ignore[arg-type]
    assert outcome == Release("voicemail: done")
    assert app.store.counts("2003") == (0, 1) and changed == ["2003", "2003"]
    message = str(tmp_path / "2003" / UNREAD / "msg0000.wav")
    assert channel.played.count(f"file:{message}") == 2  # heard, then replayed
    assert "prompt:vm-saved" in channel.played and "prompt:vm-deleted" in channel.played
    assert channel.played[-1] == "prompt:goodbye"
    assert [m.status for m in app.store.messages("2003")] == [READ]


def test_next_keeps_new_messages_new_and_no_pin_opens(tmp_path: Path) -> None:
    app, changed = listening(tmp_path, pin="")
    channel = ScriptedChannel("##")
    asyncio.run(app.run(channel, "*97"))  # type: ignore[arg-type]
    assert app.store.counts("2003") == (2, 0) and changed == []
    assert "prompt:vm-password" not in channel.played


def test_a_caller_that_is_no_extension_is_asked_for_the_mailbox(tmp_path: Path) -> None:
    app, _ = listening(tmp_path, pin="")
    channel = ScriptedChannel("2003#")
    inbound = CallMember(MemberKind.INBOUND, "trunk-1", MemberStatus.ANSWERED, caller="0611")
    channel.member = lambda path: inbound  # type: ignore[method-assign]
    outcome = asyncio.run(app.run(channel, "*97"))  # type: ignore[arg-type]
    # a box without a PIN opens only from its own phone
    assert outcome == Release("voicemail: wrong PIN")
    assert channel.played[0] == "prompt:vm-mailbox"
    assert channel.played.count("prompt:vm-login-incorrect") == 3
    assert not any(p.startswith("file:") for p in channel.played)


def test_star98_asks_for_the_mailbox_then_the_pin(tmp_path: Path) -> None:
    app, changed = listening(tmp_path)
    # an oversized mailbox number costs a try; then the right box and PIN; delete both
    channel = ScriptedChannel("1" * 20 + "#" + "2003#4812#" + "77")
    outcome = asyncio.run(app.run(channel, "*98"))  # type: ignore[arg-type]
    assert outcome == Release("voicemail: done")
    assert channel.played.count("prompt:vm-login-incorrect") == 1
    assert app.store.counts("2003") == (0, 0) and changed == ["2003", "2003"]


def test_each_message_is_introduced_by_its_envelope(tmp_path: Path) -> None:
    app, _ = listening(tmp_path, pin="")
    channel = ScriptedChannel("##")
    asyncio.run(app.run(channel, "*97"))  # type: ignore[arg-type]
    arrived = datetime.fromtimestamp(1.0)
    first = channel.played.index("prompt:vm-message")
    envelope = channel.played[first : first + 16]
    assert envelope[:2] == ["prompt:vm-message", "prompt:digit-1"]
    assert envelope[2:7] == ["prompt:vm-from"] + [f"prompt:digit-{d}" for d in "2001"]
    assert envelope[7:10] == [
        "prompt:vm-received",
        f"prompt:day-{arrived.weekday()}",
        f"prompt:month-{arrived.month}",
    ]
    message = str(tmp_path / "2003" / UNREAD / "msg0000.wav")
    assert channel.played.index(f"file:{message}") > first + 10


def test_the_main_menu_offers_the_greeting(tmp_path: Path) -> None:
    app, _ = listening(tmp_path, pin="")
    # both messages skipped, then 3: the recording fails here, so nothing is kept
    channel = ScriptedChannel("##3#")
    outcome = asyncio.run(app.run(channel, "*97"))  # type: ignore[arg-type]
    assert outcome == Release("voicemail: done")
    assert "prompt:vm-main-menu" in channel.played
    assert "prompt:vm-record-greeting" in channel.played and "tone:beep" in channel.played
    assert "prompt:vm-greeting-too-short" in channel.played
    assert not (tmp_path / "2003" / "greeting.wav").exists()
    assert not (tmp_path / "2003" / "greeting.draft.wav").exists()


class RecordingChannel(ScriptedChannel):
    """The worker's recording: ``seconds`` of audio written where asked."""

    def __init__(self, keys: str, seconds: float) -> None:
        super().__init__(keys)
        self.seconds = seconds
        self.recorded: list[str] = []

    async def record(self, path: str, **_: Any) -> Recorded:
        self.recorded.append(path)
        write_wav(Path(path), self.seconds)
        return Recorded(self.seconds, "key")


def test_a_recorded_greeting_replaces_the_old_one_in_one_rename(tmp_path: Path) -> None:
    app, _ = listening(tmp_path, pin="")
    greeting = tmp_path / "2003" / "greeting.wav"
    write_wav(greeting, 3.0)  # the old greeting
    channel = RecordingChannel("##3#", seconds=1.5)
    asyncio.run(app.run(channel, "*97"))  # type: ignore[arg-type]
    assert channel.recorded == [str(tmp_path / "2003" / "greeting.draft.wav")]  # never in place
    assert "prompt:vm-greeting-saved" in channel.played
    with wave.open(str(greeting)) as audio:
        assert audio.getnframes() == 12000  # the new 1.5 s one
    assert not (tmp_path / "2003" / "greeting.draft.wav").exists()


def test_a_too_short_greeting_keeps_the_old_one(tmp_path: Path) -> None:
    app, _ = listening(tmp_path, pin="")
    greeting = tmp_path / "2003" / "greeting.wav"
    write_wav(greeting, 3.0)
    channel = RecordingChannel("##3#", seconds=0.4)
    asyncio.run(app.run(channel, "*97"))  # type: ignore[arg-type]
    assert "prompt:vm-greeting-too-short" in channel.played
    with wave.open(str(greeting)) as audio:
        assert audio.getnframes() == 24000
    assert not (tmp_path / "2003" / "greeting.draft.wav").exists()


def test_key_4_records_the_busy_greeting_beside_the_unavailable_one(tmp_path: Path) -> None:
    app, _ = listening(tmp_path, pin="")
    unavailable = tmp_path / "2003" / "greeting.wav"
    write_wav(unavailable, 3.0)
    channel = RecordingChannel("##4#", seconds=1.5)
    asyncio.run(app.run(channel, "*97"))  # type: ignore[arg-type]
    assert "prompt:vm-record-busy-greeting" in channel.played
    assert "prompt:vm-record-greeting" not in channel.played
    assert channel.recorded == [str(tmp_path / "2003" / "busy-greeting.draft.wav")]
    with wave.open(str(tmp_path / "2003" / "busy-greeting.wav")) as audio:
        assert audio.getnframes() == 12000
    with wave.open(str(unavailable)) as audio:
        assert audio.getnframes() == 24000  # the unavailable greeting is left alone
