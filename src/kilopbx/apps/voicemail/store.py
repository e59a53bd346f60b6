"""Voicemail boxes on disk: `<data>/voicemail/<extension>/{unread,read}/msgNNNN.wav`.

The files are the store: a message is a WAV the media worker writes (valid on disk at
every moment, so a kill -9 leaves a truncated but playable message) and a small JSON
beside it with who called and when, written before the recording starts. Spec 60:
unread and read messages live in two folders, each numbered `msg0000.wav` upwards;
a new message takes the number after the highest in the unread folder, deleting one
does not renumber the others. Lengths are read from the WAV itself, so a message cut
short by a crash still shows how much of it exists.
"""

from __future__ import annotations

import json
import os
import re
import wave
from dataclasses import dataclass
from pathlib import Path

from kilopbx.events.call_model import local_time_text

UNREAD, READ = "unread", "read"
FOLDERS = (UNREAD, READ)
_NAME = re.compile(r"msg(\d{4})\.wav")
_EXTENSION = re.compile(r"[0-9]{1,16}")
MAX_MESSAGES = 9999  # the four-digit names of spec 60


class BoxFull(Exception):
    """The unread folder has no free name left."""


@dataclass(frozen=True)
class Message:
    file: str  # msgNNNN.wav
    caller: str
    status: str  # unread or read
    received_at: float  # epoch seconds
    seconds: int

    @property
    def date_text(self) -> str:
        return local_time_text(self.received_at)


class VoicemailStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def box(self, extension: str) -> Path:
        if not _EXTENSION.fullmatch(extension):
            raise ValueError("an extension number is 1 to 16 digits")
        return self.root / extension

    def new_message(self, extension: str, caller: str, now: float) -> Path:
        """Reserve the next name in the unread folder and write the caller's details;
        returns the WAV path the recording goes to (not created yet)."""
        folder = self.box(extension) / UNREAD
        folder.mkdir(parents=True, exist_ok=True)
        numbers = [int(m.group(1)) for p in folder.iterdir() if (m := _NAME.fullmatch(p.name))]
        numbers += [int(p.stem[3:]) for p in folder.glob("msg[0-9][0-9][0-9][0-9].json")]
        following = max(numbers, default=-1) + 1
        if following > MAX_MESSAGES:
            raise BoxFull(extension)
        path = folder / f"msg{following:04d}.wav"
        meta = {"caller": caller[:64], "received_at": now}
        _write_atomically(path.with_suffix(".json"), json.dumps(meta).encode())
        return path

    def discard(self, path: Path) -> None:
        """A message too short to keep (the caller hung up at the beep)."""
        for victim in (path, path.with_suffix(".json")):
            victim.unlink(missing_ok=True)

    def messages(self, extension: str) -> list[Message]:
        """Every message of the box, oldest first, unread and read mixed."""
        found: list[Message] = []
        box = self.box(extension)
        for status in FOLDERS:
            folder = box / status
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                if _NAME.fullmatch(path.name) and path.is_file():
                    found.append(_message(path, status))
        return sorted(found, key=lambda m: (m.received_at, m.status, m.file))


def _message(path: Path, status: str) -> Message:
    caller, received_at = "", path.stat().st_mtime
    try:
        meta = json.loads(path.with_suffix(".json").read_bytes())
        caller = str(meta.get("caller", ""))[:64]
        received_at = float(meta.get("received_at", received_at))
    except (OSError, ValueError, TypeError, AttributeError):
        pass  # a message without its details still lists, from the file alone
    return Message(path.name, caller, status, received_at, wav_seconds(path))


def wav_seconds(path: Path) -> int:
    """Whole seconds of audio; from the file size when the header cannot be read."""
    return int(wav_length(path))


def wav_length(path: Path) -> float:
    """Seconds of audio in the file (0 when there is none or it cannot be read)."""
    try:
        size = path.stat().st_size
        with wave.open(str(path), "rb") as audio:
            rate = audio.getframerate()
            frame = audio.getnchannels() * audio.getsampwidth()
            # a header whose sizes were not rewritten before a crash overstates them
            frames = min(audio.getnframes(), max(0, size - 44) // max(1, frame))
            return frames / rate if rate else 0.0
    except (OSError, EOFError, wave.Error):
        try:
            return max(0, path.stat().st_size - 44) / 16000  # 8 kHz, 16 bit
        except OSError:
            return 0.0


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_suffix(".tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
