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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kilopbx.events.call_model import local_time_text
from kilopbx.media.wav import WavError, parse_header

UNREAD, READ = "unread", "read"
FOLDERS = (UNREAD, READ)
_NAME = re.compile(r"msg(\d{4})\.wav")
_EXTENSION = re.compile(r"[0-9]{1,16}")
MAX_MESSAGES = 9999  # the four-digit names of spec 60
# the owner's own greetings, in the box: for callers whose call was not answered (or
# who called the box itself), and for callers who found the line busy
UNAVAILABLE, BUSY = "unavailable", "busy"
GREETING_FILES = {UNAVAILABLE: "greeting", BUSY: "busy-greeting"}
GREETING = f"{GREETING_FILES[UNAVAILABLE]}.wav"


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
        self.recording: set[Path] = set()  # messages being written (not downloadable)
        self.watchers: list[Callable[[str], None]] = []  # told the extension that changed

    def changed(self, extension: str) -> None:
        """A box's messages changed (message-waiting indication follows)."""
        for watcher in list(self.watchers):
            watcher(extension)

    def counts(self, extension: str) -> tuple[int, int]:
        """(new, old) messages in the box."""
        box = self.box(extension)
        return tuple(  # type: ignore[return-value]
            sum(1 for p in folder.iterdir() if _NAME.fullmatch(p.name)) if folder.is_dir() else 0
            for folder in (box / UNREAD, box / READ)
        )

    def message_path(self, extension: str, status: str, file: str) -> Path | None:
        """A complete message's WAV, or None: bad folder or name, missing, being
        recorded, or not a readable WAV. Never a path outside the box."""
        if status not in FOLDERS or not _NAME.fullmatch(file):
            return None
        path = self.box(extension) / status / file
        if path in self.recording:
            return None
        try:
            with open(path, "rb") as handle:
                parse_header(handle.read(4096), path.stat().st_size)
        except (OSError, WavError):
            return None
        return path

    def delete(self, extension: str, statuses: tuple[str, ...], files: list[str] | None) -> int:
        """Delete the named messages (`None`: all) from these folders; a message being
        recorded is left alone. Returns how many were deleted."""
        deleted = 0
        box = self.box(extension)
        for status in statuses:
            folder = box / status
            if status not in FOLDERS or not folder.is_dir():
                continue
            names = files if files is not None else [p.name for p in folder.iterdir()]
            for name in names:
                path = folder / name
                if not _NAME.fullmatch(name) or path in self.recording or not path.is_file():
                    continue
                path.unlink(missing_ok=True)
                path.with_suffix(".json").unlink(missing_ok=True)
                deleted += 1
        return deleted

    def mark_read(self, extension: str, file: str) -> str | None:
        """Move an unread message to the read folder under its next free name."""
        source = self.box(extension) / UNREAD / file
        if not _NAME.fullmatch(file) or source in self.recording or not source.is_file():
            return None
        folder = self.box(extension) / READ
        folder.mkdir(parents=True, exist_ok=True)
        numbers = [int(m.group(1)) for p in folder.iterdir() if (m := _NAME.fullmatch(p.name))]
        numbers += [int(p.stem[3:]) for p in folder.glob("msg[0-9][0-9][0-9][0-9].json")]
        target = folder / f"msg{max(numbers, default=-1) + 1:04d}.wav"
        if source.with_suffix(".json").is_file():
            os.replace(source.with_suffix(".json"), target.with_suffix(".json"))
        os.replace(source, target)
        return target.name

    def box(self, extension: str) -> Path:
        if not _EXTENSION.fullmatch(extension):
            raise ValueError("an extension number is 1 to 16 digits")
        return self.root / extension

    def greeting(self, extension: str, which: str = UNAVAILABLE) -> Path:
        """Where the box's own greeting of this kind (`UNAVAILABLE`, `BUSY`) is (it
        may not exist)."""
        return self.box(extension) / f"{GREETING_FILES[which]}.wav"

    def greeting_draft(self, extension: str, which: str = UNAVAILABLE) -> Path:
        """Where a greeting being recorded goes until it is kept (`keep_greeting`)."""
        box = self.box(extension)
        box.mkdir(parents=True, exist_ok=True)
        return box / f"{GREETING_FILES[which]}.draft.wav"

    def keep_greeting(self, extension: str, which: str = UNAVAILABLE) -> None:
        """The draft becomes the greeting in one rename: a caller leaving a message
        meanwhile hears the old greeting or the new one, never half of one."""
        os.replace(self.greeting_draft(extension, which), self.greeting(extension, which))

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
