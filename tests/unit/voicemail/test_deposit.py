"""Leaving a message, driven by a scripted channel: which greeting a caller hears
depends on why its call came to the box (busy, or anything else) and on which
greetings the owner recorded."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kilopbx.apps.voicemail.deposit import VoicemailApplication
from kilopbx.apps.voicemail.store import BUSY, UNAVAILABLE, VoicemailStore
from kilopbx.engine.applications import Release
from tests.unit.voicemail.test_listen import Prompts, RecordingChannel
from tests.unit.voicemail.test_store import write_wav

SYSTEM_BUSY = [
    "prompt:vm-person-at-extension",
    *(f"prompt:digit-{d}" for d in "2003"),
    "prompt:vm-is-on-the-phone",
]


def leave_message(store: VoicemailStore, unreached: str) -> list[str]:
    """What a caller handed over for ``unreached`` hears before the recording."""
    channel = RecordingChannel("", seconds=2.0)
    channel.unreached = unreached  # type: ignore[attr-defined]
    app = VoicemailApplication(store, None, Prompts(), lambda: 5.0, None)  # type: ignore[arg-type]
    assert asyncio.run(app.run(channel, "2003")) == Release("message left")  # type: ignore[arg-type]
    assert len(channel.recorded) == 1
    beep = channel.played.index("tone:beep")
    return channel.played[:beep]


@pytest.mark.parametrize("unreached", ["no_answer", "unavailable", "dnd", "forward_always", ""])
def test_every_caller_but_a_busy_lines_hears_the_unavailable_greeting(
    tmp_path: Path, unreached: str
) -> None:
    store = VoicemailStore(tmp_path)
    assert leave_message(store, unreached) == ["prompt:vm-greeting"]
    write_wav(store.greeting("2003", BUSY), 1.0)  # a busy greeting changes nothing here
    assert leave_message(store, unreached) == ["prompt:vm-greeting"]
    write_wav(store.greeting("2003", UNAVAILABLE), 1.0)
    assert leave_message(store, unreached) == [f"file:{tmp_path / '2003' / 'greeting.wav'}"]


def test_a_busy_lines_caller_hears_the_busy_greeting(tmp_path: Path) -> None:
    store = VoicemailStore(tmp_path)
    assert leave_message(store, "busy") == SYSTEM_BUSY  # "...at extension 2 0 0 3 is on..."
    write_wav(store.greeting("2003", UNAVAILABLE), 1.0)  # not the unavailable one
    assert leave_message(store, "busy") == SYSTEM_BUSY
    write_wav(store.greeting("2003", BUSY), 1.0)  # the owner's own, once recorded
    assert leave_message(store, "busy") == [f"file:{tmp_path / '2003' / 'busy-greeting.wav'}"]
