"""Which calls are recorded, where their files go, and which files may be downloaded.

The policy (a KiloPBX extension setting, `recording/update_settings`) lists the
extensions, trunks, queues and conference rooms whose calls are recorded
automatically; a call is recorded when any of its parties is listed. It is stored
as one JSON value in `system_setting` and kept in memory, because the call engine
asks at every answer.

Recordings are written by the media workers to `<data>/recordings/` as
`{YYYYMMDDHHMMSS}-{callid}-{from}-{to}-{type}.wav` (60-voicemail-recording-cdr.md;
local time of the call's start). A file is not downloadable while it is being
written. At start, every WAV there has its header sizes checked and repaired, so a
recording cut by a killed PBX or worker is a valid, at worst truncated, file.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from kilopbx.core.errors import DomainError
from kilopbx.core.registry import Key
from kilopbx.engine.sounds import RecordingTarget
from kilopbx.media.wav import WavError, parse_header, repair
from kilopbx.store.settings_repo import SettingsRepo

log = logging.getLogger(__name__)

SETTING_KEY = "recording_policy"
SETTINGS_INVALID = "recordings.settings_invalid"
NO_EXTENSION = "recordings.no_extension"
NO_FILE = "recordings.no_file"
BAD_RANDOM = "recordings.bad_random"
IP_NOT_ALLOWED = "cdr.ip_not_allowed"  # the CDR's reason: one errno (20015) for every download
KINDS = ("extensions", "trunks", "queues", "conferences")
MAX_ENTRIES = 2000
_ENTRY = re.compile(r"[A-Za-z0-9+*#_.@-]{1,64}")
_FILE = re.compile(r"[A-Za-z0-9+*#_.@-]{1,200}\.wav")
_PARTY = re.compile(r"[^A-Za-z0-9+*#]")


@dataclass(frozen=True)
class RecordingPolicy:
    """`all` in a kind records every party of that kind."""

    entries: dict[str, frozenset[str]] = field(default_factory=dict)

    def records(self, kind: str, value: str) -> bool:
        listed = self.entries.get(kind, frozenset())
        return "all" in listed or value in listed

    def wire(self) -> dict[str, str]:
        return {kind: ",".join(sorted(self.entries.get(kind, ()))) for kind in KINDS}


def parse_policy(values: dict[str, str | None], old: RecordingPolicy) -> RecordingPolicy:
    """The changed kinds from `"2001,2002"` or `"all"` or `""` (none)."""
    entries = dict(old.entries)
    for kind in KINDS:
        text = values.get(kind)
        if text is None:
            continue
        items = {item.strip() for item in text.split(",") if item.strip()}
        if len(items) > MAX_ENTRIES or not all(_ENTRY.fullmatch(item) for item in items):
            raise DomainError(SETTINGS_INVALID, f"{kind}: a comma list of numbers or names")
        if "all" in items and len(items) > 1:
            raise DomainError(SETTINGS_INVALID, f"{kind}: 'all' stands alone")
        entries[kind] = frozenset(items)
    return RecordingPolicy(entries)


class RecordingService:
    def __init__(self, data_dir: Path, settings: SettingsRepo) -> None:
        self.directory = data_dir.resolve() / "recordings"
        self._settings = settings
        self.policy = RecordingPolicy()
        self.in_progress: set[str] = set()

    async def load(self) -> None:
        text = await self._settings.get(SETTING_KEY)
        if text:
            try:
                data = json.loads(text)
                self.policy = RecordingPolicy(
                    {k: frozenset(data.get(k, ())) for k in KINDS if isinstance(data.get(k), list)}
                )
            except (ValueError, TypeError, AttributeError):
                log.error("the stored recording policy is unreadable; nothing is recorded")

    async def update(self, values: dict[str, str | None]) -> RecordingPolicy:
        policy = parse_policy(values, self.policy)
        data = {kind: sorted(policy.entries.get(kind, ())) for kind in KINDS}
        await self._settings.set(SETTING_KEY, json.dumps(data))
        self.policy = policy
        return policy

    # ---- files ---------------------------------------------------------------------

    def prepare(self) -> int:
        """Make the directory, and repair the recordings a crash left; returns how many."""
        self.directory.mkdir(parents=True, exist_ok=True)
        repaired = 0
        for path in self.directory.glob("*.wav"):
            try:
                repaired += repair(path)
            except (OSError, WavError) as exc:
                log.warning("recording %s cannot be repaired: %s", path.name, exc)
        return repaired

    def path_of(self, name: str) -> Path:
        """The file of a downloadable recording; `NO_FILE` for a bad name, a missing
        file, one still being written or one that is no valid WAV."""
        if not _FILE.fullmatch(name) or ".." in name or name in self.in_progress:
            raise DomainError(NO_FILE, "no such recording")
        path = self.directory / name
        try:
            with open(path, "rb") as file:
                parse_header(file.read(4096), path.stat().st_size)
        except (OSError, WavError):
            raise DomainError(NO_FILE, "no such recording") from None
        return path

    # ---- CallRecordings (the engine asks) ------------------------------------------

    def target(
        self, *, call_id: str, started_at: float, caller: str, callee: str, call_type: str,
        numbers: tuple[str, ...], trunks: tuple[str, ...] = (), on_demand: bool = False,
    ) -> RecordingTarget | None:  # fmt: skip
        policy = self.policy
        wanted = (
            on_demand
            or any(
                policy.records(kind, number)
                for number in numbers
                for kind in ("extensions", "queues", "conferences")
            )
            or any(policy.records("trunks", trunk) for trunk in trunks)
        )
        if not wanted:
            return None
        stamp = time.strftime("%Y%m%d%H%M%S", time.localtime(started_at))
        base = f"{stamp}-{call_id}-{_party(caller)}-{_party(callee)}-{call_type}"
        name = f"{base}.wav"
        for n in range(2, 100):
            if not (self.directory / name).exists() and name not in self.in_progress:
                break
            name = f"{base}-{n}.wav"
        return RecordingTarget(name, self.directory / name)

    def started(self, target: RecordingTarget) -> None:
        self.in_progress.add(target.name)

    def finished(self, target: RecordingTarget) -> None:
        self.in_progress.discard(target.name)


def _party(number: str) -> str:
    return _PARTY.sub("_", number)[:32] or "unknown"


RECORDINGS: Key[RecordingService] = Key("recordings")
