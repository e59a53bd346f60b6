"""Voicemail boxes as the API sees them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kilopbx.apps.voicemail.store import FOLDERS, Message, VoicemailStore
from kilopbx.core.errors import DomainError
from kilopbx.core.registry import Key
from kilopbx.engine.directory import AccountDirectory

NO_SUCH_EXTENSION = "voicemail.no_such_extension"
BAD_STATUS = "voicemail.bad_status"
NO_FILE = "voicemail.no_file"
BAD_RANDOM = "voicemail.bad_random"
MAX_FILES = 10000
MAX_SELECTED = 1200


class VoicemailService:
    def __init__(self, store: VoicemailStore, directory: AccountDirectory) -> None:
        self.store = store
        self.directory = directory

    async def query(self, selector: str) -> list[tuple[str, list[Message]]]:
        """(extension, its messages) for the boxes that have any, ascending; unknown
        extensions in a list are skipped, a list of only unknown ones is refused."""
        numbers = self._numbers(selector)
        boxes = await asyncio.to_thread(self._read, numbers)
        return [(number, messages) for number, messages in boxes if messages]

    async def delete(self, selector: str, files: str, status: str) -> int:
        """spec 60 voicemail/delete: every listed file of every listed folder of every
        listed extension; `NO_FILE` when nothing was deleted (unless files is `all`)."""
        statuses = _statuses(status, allow_all=True)
        numbers = self._numbers(selector)
        names: list[str] | None = None
        if files.strip().lower() != "all":
            names = [f.strip() for f in files.split(",") if f.strip()][:MAX_FILES]
        deleted = 0
        for number in numbers:
            count = await asyncio.to_thread(self.store.delete, number, statuses, names)
            if count:
                self.store.changed(number)
            deleted += count
        if not deleted and names is not None:
            raise DomainError(NO_FILE, "no such voicemail file")
        return deleted

    async def downloadable(self, number: str, status: str, file: str) -> Path:
        """The complete message to download (spec 60's errors in its order)."""
        number = number.strip()
        if self.directory.by_number(number) is None:
            raise DomainError(NO_SUCH_EXTENSION, "no such extension")
        (folder,) = _statuses(status, allow_all=False)
        path = await asyncio.to_thread(self.store.message_path, number, folder, file.strip())
        if path is None:
            raise DomainError(NO_FILE, "no such voicemail file")
        return path

    def _numbers(self, selector: str) -> list[str]:
        if selector.strip().lower() == "all":
            return sorted(set(self.directory.numbers()), key=_numeric)
        asked = [n.strip() for n in selector.split(",") if n.strip()][:MAX_SELECTED]
        numbers = [n for n in asked if self.directory.by_number(n) is not None]
        if not numbers:
            raise DomainError(NO_SUCH_EXTENSION, "none of these extensions exists")
        return sorted(set(numbers), key=_numeric)

    def _read(self, numbers: list[str]) -> list[tuple[str, list[Message]]]:
        return [(number, self.store.messages(number)) for number in numbers]


def _statuses(status: str, *, allow_all: bool) -> tuple[str, ...]:
    value = status.strip().lower()
    if value in FOLDERS:
        return (value,)
    if allow_all and value == "all":
        return FOLDERS
    raise DomainError(BAD_STATUS, "voicemailstatus must be unread or read")


def _numeric(number: str) -> tuple[int, str]:
    return (int(number), number) if number.isascii() and number.isdigit() else (0, number)


VOICEMAIL: Key[VoicemailService] = Key("voicemail")
