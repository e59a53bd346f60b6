"""Prompt files under the data directory: system prompts, custom prompts, hold music.

Layout (`<data>/prompts/`):

- `system/<name>.wav`: the system prompts, 8 kHz 16-bit mono, generated at first
  start (`generate.py`); `system/16k/<name>.wav` the same at 16 kHz for G.722 legs
  (the worker picks the `16k` file itself, see `media/sources.py`);
- `custom/<name>.wav` and `custom/16k/<name>.wav`: the administrator's prompts,
  uploaded through the API or dropped into `custom/` as any WAV; either way they are
  converted once to both rates, and a dropped file's original is kept in
  `custom/originals/`.

A custom prompt overrides the system prompt of the same name, so any system prompt
(and the hold music, `hold-music`) is replaced by uploading a file of its name.
Names are plain (letters, digits, `_`, `-`, `.`; at least one letter; up to 64
characters); a trailing `.wav` is ignored, so an IVR's `welcome_main.wav` and a
playprompt's `welcome_main` are the same prompt. No name can leave the directory.
The blocking file work here runs in a thread (`asyncio.to_thread`) in the feature.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path

from kilopbx.core.errors import DomainError
from kilopbx.core.registry import Key
from kilopbx.engine.sounds import HOLD_FALLBACK
from kilopbx.media.wav import WavError, decode_wav, encode_wav, parse_header

log = logging.getLogger(__name__)

NAME_INVALID = "prompts.name_invalid"
FILE_INVALID = "prompts.file_invalid"
NOT_FOUND = "prompts.not_found"

RATES = (8000, 16000)
WIDE = "16k"
MAX_FILE = 64 << 20
_NAME = re.compile(r"(?=[A-Za-z0-9_.-]*[A-Za-z])[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
HOLD_MUSIC = "hold-music"


def clean_name(name: str) -> str:
    """The prompt's name without `.wav`; `DomainError(NAME_INVALID)` when unusable."""
    text = name.strip()
    if text.lower().endswith(".wav"):
        text = text[:-4]
    if not _NAME.fullmatch(text) or ".." in text:
        raise DomainError(
            NAME_INVALID, "a prompt name is 1-64 letters, digits, _ - . with a letter"
        )
    return text


class PromptStore:
    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir.resolve() / "prompts"
        self.system = self.root / "system"
        self.custom = self.root / "custom"
        self.originals = self.custom / "originals"

    def ensure_dirs(self) -> None:
        for folder in (self.system / WIDE, self.custom / WIDE, self.originals):
            folder.mkdir(parents=True, exist_ok=True)

    # ---- look-ups (cheap: one or two stat calls) -------------------------------------

    def prompt(self, name: str) -> str | None:
        try:
            clean = clean_name(name)
        except DomainError:
            return None
        for folder in (self.custom, self.system):
            path = folder / f"{clean}.wav"
            if path.is_file():
                return f"file:{path}"
        return None

    def exists(self, name: str) -> bool:
        return self.prompt(name) is not None

    def hold_music(self) -> str:
        return self.prompt(HOLD_MUSIC) or HOLD_FALLBACK

    def names(self, *, custom: bool) -> list[str]:
        folder = self.custom if custom else self.system
        if not folder.is_dir():
            return []
        return sorted(p.stem for p in folder.glob("*.wav") if p.is_file())

    def seconds(self, name: str) -> float:
        source = self.prompt(name)
        if source is None:
            raise DomainError(NOT_FOUND, f"no prompt {name[:64]!r}")
        path = Path(source.removeprefix("file:"))
        return max(0, path.stat().st_size - 44) / (2 * RATES[0])

    # ---- changes (blocking) ----------------------------------------------------------

    def install(self, name: str, data: bytes, *, system: bool = False) -> float:
        """Convert any WAV to the prompt `name` at every rate; returns its length in s."""
        clean = clean_name(name)
        if len(data) > MAX_FILE:
            raise DomainError(FILE_INVALID, f"the file is larger than {MAX_FILE >> 20} MiB")
        try:
            converted = {rate: decode_wav(data, rate) for rate in RATES}
        except WavError as exc:
            raise DomainError(FILE_INVALID, str(exc)) from None
        if not converted[RATES[0]]:
            raise DomainError(FILE_INVALID, "the file holds no audio")
        folder = self.system if system else self.custom
        self.write(folder / WIDE / f"{clean}.wav", encode_wav(converted[16000], 16000))
        self.write(folder / f"{clean}.wav", encode_wav(converted[8000], 8000))
        return len(converted[8000]) / (2 * 8000)

    def install_pcm(self, name: str, pcm: bytes, rate: int) -> None:
        """A system prompt from 16-bit mono PCM (generated): written at every rate."""
        self.install(name, encode_wav(pcm, rate), system=True)

    def delete(self, name: str) -> bool:
        clean = clean_name(name)
        found = False
        for path in (
            self.custom / f"{clean}.wav",
            self.custom / WIDE / f"{clean}.wav",
            self.originals / f"{clean}.wav",
        ):
            if path.is_file():
                path.unlink()
                found = True
        return found

    def normalize_dropped(self) -> list[str]:
        """Convert the WAVs an administrator dropped into `custom/` (any rate, width,
        channels) to the stored form; returns the names converted. A file that cannot
        be used is left where it is, with a warning in the log."""
        done: list[str] = []
        if not self.custom.is_dir():
            return done
        for path in sorted(self.custom.iterdir()):
            if not path.is_file() or path.suffix.lower() != ".wav":
                continue
            wide = self.custom / WIDE / f"{path.stem}.wav"
            if _is_stored_form(path) and wide.is_file():
                continue
            try:
                data = path.read_bytes()
                clean = clean_name(path.stem)
                original = self.originals / f"{clean}.wav"
                self.write(original, data)
                if path.name != f"{clean}.wav":
                    path.unlink()
                self.install(clean, data)
            except (DomainError, OSError) as exc:
                log.warning("custom prompt %s cannot be used: %s", path.name, exc)
                continue
            done.append(clean)
        return done

    @staticmethod
    def write(path: Path, data: bytes) -> None:
        """Replace `path` atomically: a crash leaves the old file or the new one."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".wav")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def _is_stored_form(path: Path) -> bool:
    try:
        with open(path, "rb") as file:
            head = file.read(512)
        info = parse_header(head, path.stat().st_size)
    except (OSError, WavError):
        return False
    return (info.format, info.channels, info.rate, info.width) == (1, 1, 8000, 2)


PROMPTS: Key[PromptStore] = Key("prompts")
