"""Making the system prompts and the hold music when they are missing.

Each system prompt (`catalog.py`) is spoken by Debian's `espeak-ng` (US English,
150 words a minute) and stored at 8 and 16 kHz. Without `espeak-ng` the PBX still
starts and still says something: a prompt becomes a short chime, and a digit that
many short beeps (ten for zero), so a caller hears that the line is alive and a
read-out can still be counted. A fallback prompt is generated again once
`espeak-ng` is installed (a marker file lists the prompts that are only tones).
A spoken prompt whose text changed since (a newer catalogue) is spoken again: a
second file records which text each prompt was spoken from. The hold music is
generated once (`holdmusic.py`). Blocking: run in a thread.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import threading
from pathlib import Path

from kilopbx.apps.prompts.catalog import SYSTEM_PROMPTS
from kilopbx.apps.prompts.holdmusic import RATE as MUSIC_RATE
from kilopbx.apps.prompts.holdmusic import render as render_music
from kilopbx.apps.prompts.store import HOLD_MUSIC, WIDE, PromptStore
from kilopbx.core.errors import DomainError
from kilopbx.media.tones import Tone, render

log = logging.getLogger(__name__)

VOICE = ["-v", "en-us", "-s", "150"]
SPEAK_TIMEOUT = 20.0
TONE_ONLY = ".tone-only"  # the prompts made without espeak-ng, one name a line
SPOKEN = ".spoken.json"  # name -> `text_digest` of the text each prompt was spoken from
CHIME = Tone((523.0, 659.0), (300, 100, 300, 300))
BEEP = Tone((880.0,), (150, 150))


def catalog_digest() -> str:
    """Changes when a text or the voice changes: a seed directory is kept per digest."""
    text = json.dumps([VOICE, SYSTEM_PROMPTS], sort_keys=True).encode()
    return hashlib.sha256(text).hexdigest()[:16]


def text_digest(name: str) -> str:
    """Changes when the prompt's text or the voice changes."""
    text = json.dumps([VOICE, SYSTEM_PROMPTS.get(name, "")]).encode()
    return hashlib.sha256(text).hexdigest()[:16]


def _spoken(store: PromptStore) -> dict[str, str]:
    try:
        found = json.loads((store.system / SPOKEN).read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def _keep_spoken(store: PromptStore, spoken: dict[str, str]) -> None:
    store.write(store.system / SPOKEN, json.dumps(spoken, sort_keys=True).encode())


def espeak() -> str | None:
    return shutil.which("espeak-ng")


def speak(text: str, program: str) -> bytes:
    """A WAV of `text` spoken by espeak-ng (22.05 kHz, 16-bit mono)."""
    done = subprocess.run(
        [program, *VOICE, "--stdout", text],
        capture_output=True,
        timeout=SPEAK_TIMEOUT,
        check=True,
    )
    return done.stdout


def fallback_pcm(name: str, rate: int = 8000) -> bytes:
    """What a prompt sounds like without a voice: a chime, or a digit's count of beeps."""
    if name.startswith("digit-") and name[6:].isdigit():
        count = int(name[6:]) or 10
        return render(BEEP, rate) * count
    return render(CHIME, rate)


def generate_missing(
    store: PromptStore, share_to: Path | None = None, stop: threading.Event | None = None
) -> int:
    """Make every missing system prompt and the hold music; returns how many. Each
    spoken prompt is also copied into `share_to` (a seed directory) as soon as made.
    `stop` set ends the work between two prompts (a PBX stopping does not wait)."""
    store.ensure_dirs()
    program = espeak()
    marker = store.system / TONE_ONLY
    tone_only = set(marker.read_text().split()) if marker.is_file() else set()
    spoken = _spoken(store)
    if program is None:
        log.warning("espeak-ng is not installed: missing system prompts will be tones")
    made = 0
    for name, text in SYSTEM_PROMPTS.items():
        if stop is not None and stop.is_set():
            break
        present = (store.system / f"{name}.wav").is_file()
        stale = name in tone_only or spoken.get(name) != text_digest(name)
        if present and not (program is not None and stale):
            continue
        try:
            if program is not None:
                store.install(name, speak(text, program), system=True)
                tone_only.discard(name)
                spoken[name] = text_digest(name)
                _share(store, name, share_to)
            else:
                store.install_pcm(name, fallback_pcm(name), 8000)
                tone_only.add(name)
        except (OSError, subprocess.SubprocessError, DomainError) as exc:
            log.warning("system prompt %s: %s; using a tone", name, exc)
            store.install_pcm(name, fallback_pcm(name), 8000)
            tone_only.add(name)
        made += 1
    if made:
        _keep_spoken(store, spoken)
    if stop is not None and stop.is_set():
        return made
    if not (store.system / f"{HOLD_MUSIC}.wav").is_file() and not (stop and stop.is_set()):
        store.install_pcm(HOLD_MUSIC, render_music(), MUSIC_RATE)
        _share(store, HOLD_MUSIC, share_to)
        made += 1
    if tone_only:
        marker.write_text("\n".join(sorted(tone_only)) + "\n")
    else:
        marker.unlink(missing_ok=True)
    return made


def seed_from(store: PromptStore, source: Path) -> int:
    """Copy prepared system prompts from `source` (a directory laid out like
    `system/`) instead of generating them: for installs that ship them, and tests."""
    if not source.is_dir():
        return 0
    copied = 0
    spoken = _spoken(store)
    for path in source.rglob("*.wav"):
        target = store.system / path.relative_to(source)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            copied += 1
            if path.stem in SYSTEM_PROMPTS:  # a seed holds one catalogue's texts
                spoken[path.stem] = text_digest(path.stem)
    if copied:
        _keep_spoken(store, spoken)
    return copied


def _share(store: PromptStore, name: str, seed: Path | None) -> None:
    """Copy one generated prompt (both rates) into the seed directory, atomically."""
    if seed is None:
        return
    try:
        for relative in (Path(f"{name}.wav"), Path(WIDE) / f"{name}.wav"):
            target = seed / relative
            if not target.exists():
                store.write(target, (store.system / relative).read_bytes())
    except OSError as exc:
        log.debug("could not share prompt %s: %s", name, exc)
