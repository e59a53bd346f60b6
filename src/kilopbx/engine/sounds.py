"""What the engine asks of the PBX's sounds: prompts, hold music, call recordings.

The engine plays hold music to a held phone, ringback to a caller and prompts to
applications' calls, and records calls; which files those are, and which calls are
recorded, are features' business (`apps/prompts`, `apps/recordings`). The engine
asks through these protocols, found in the registry, and falls back to tones (or
no recording) when no feature provides them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from kilopbx.core.registry import Key

HOLD_FALLBACK = "tone:440+660/400,3600"  # a gentle chime every 4 s: the line is alive
RINGBACK = "tone:ringback"


class SoundLibrary(Protocol):
    def prompt(self, name: str) -> str | None:
        """The worker source (`file:...`) of a prompt: a custom one of that name,
        else the system one; None when neither exists."""
        ...

    def hold_music(self) -> str:
        """The worker source of the hold music (the administrator's, else ours)."""
        ...


SOUNDS: Key[SoundLibrary] = Key("sounds")


@dataclass(frozen=True)
class RecordingTarget:
    """Where one call's recording goes: `name` is what the CDR and the API show."""

    name: str
    path: Path


class CallRecordings(Protocol):
    def target(
        self, *, call_id: str, started_at: float, caller: str, callee: str, call_type: str,
        numbers: tuple[str, ...], trunks: tuple[str, ...] = (), on_demand: bool = False,
    ) -> RecordingTarget | None:  # fmt: skip
        """The file for this call when a party (an extension, a trunk, a queue or a
        room among `numbers` / `trunks`) is recorded automatically, or always when
        `on_demand` (a party asked, `*1`); else None."""
        ...

    def started(self, target: RecordingTarget) -> None:
        """A recording is being written: not downloadable until `finished`."""
        ...

    def finished(self, target: RecordingTarget) -> None: ...


CALL_RECORDINGS: Key[CallRecordings] = Key("call_recordings")
