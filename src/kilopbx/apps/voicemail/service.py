"""Voicemail boxes as the API sees them."""

from __future__ import annotations

import asyncio

from kilopbx.apps.voicemail.store import Message, VoicemailStore
from kilopbx.core.errors import DomainError
from kilopbx.core.registry import Key
from kilopbx.engine.directory import AccountDirectory

NO_SUCH_EXTENSION = "voicemail.no_such_extension"
MAX_SELECTED = 1200


class VoicemailService:
    def __init__(self, store: VoicemailStore, directory: AccountDirectory) -> None:
        self.store = store
        self.directory = directory

    async def query(self, selector: str) -> list[tuple[str, list[Message]]]:
        """(extension, its messages) for the boxes that have any, ascending; unknown
        extensions in a list are skipped, a list of only unknown ones is refused."""
        if selector.strip().lower() == "all":
            numbers = self.directory.numbers()
        else:
            asked = [n.strip() for n in selector.split(",") if n.strip()][:MAX_SELECTED]
            numbers = [n for n in asked if self.directory.by_number(n) is not None]
            if not numbers:
                raise DomainError(NO_SUCH_EXTENSION, "none of these extensions exists")
        boxes = await asyncio.to_thread(self._read, sorted(set(numbers), key=_numeric))
        return [(number, messages) for number, messages in boxes if messages]

    def _read(self, numbers: list[str]) -> list[tuple[str, list[Message]]]:
        return [(number, self.store.messages(number)) for number in numbers]


def _numeric(number: str) -> tuple[int, str]:
    return (int(number), number) if number.isascii() and number.isdigit() else (0, number)


VOICEMAIL: Key[VoicemailService] = Key("voicemail")
