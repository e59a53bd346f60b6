"""Conference rooms: the only code that changes their configuration."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from kilopbx.apps.conferences.models import ConferenceModerator, ConferenceRoom
from kilopbx.apps.conferences.wire import (
    INVALID_VALUE,
    NO_SUCH_EXTENSION,
    NUMBER_IN_USE,
    ROOM_MISSING,
    RoomChanges,
    check_pins,
)
from kilopbx.apps.ring_groups import destinations
from kilopbx.apps.ring_groups.config_store import config_change
from kilopbx.apps.ring_groups.lookups import missing_extensions
from kilopbx.apps.ring_groups.numbered import (
    NumberedObjects,
    NumberedService,
    ordered_extensions,
    replace_extensions,
)
from kilopbx.apps.ring_groups.values import shown
from kilopbx.core.errors import DomainError
from kilopbx.core.registry import Key

KIND = "conference"
ROOMS = NumberedObjects(
    ConferenceRoom,
    "conference room",
    ROOM_MISSING,
    destination_kind=destinations.CONFERENCE,
    in_use_reason=INVALID_VALUE,
)


@dataclass
class StoredRoom:
    room: ConferenceRoom
    moderators: list[str]


class ConferenceService(NumberedService):
    objects = ROOMS

    async def query(self, numbers: list[str] | None) -> list[StoredRoom]:
        async with self._sessions() as db:
            rooms = await ROOMS.rows(db, numbers)
            return [StoredRoom(room, await _moderators(db, room.number)) for room in rooms]

    async def add(self, number: str, name: str, changes: RoomChanges) -> None:
        async with config_change(self._sessions) as db:
            room = await ROOMS.insert(
                db,
                ConferenceRoom(
                    number=number,
                    name=name,
                    participant_pin="",
                    moderator_pin="",
                    wait_for_moderator=False,
                    allow_invite=False,
                    music_on_hold=True,
                    mute_on_entry=False,
                    announcement="default",
                ),
                NUMBER_IN_USE,
                self._numbers,
            )
            await _apply(db, room, changes)

    async def update(self, number: str, changes: RoomChanges) -> None:
        async with config_change(self._sessions) as db:
            await _apply(db, await ROOMS.get(db, number), changes)


async def _apply(db: AsyncSession, room: ConferenceRoom, changes: RoomChanges) -> None:
    for attribute, value in changes.settings.items():
        setattr(room, attribute, value)
    check_pins(room)
    if changes.moderators is not None:
        unknown = await missing_extensions(db, changes.moderators)
        if unknown:
            raise DomainError(
                NO_SUCH_EXTENSION, detail=f"moderators: no extension {shown(unknown[0])}"
            )
        await replace_extensions(
            db, ConferenceModerator.room_number, room.number, changes.moderators
        )


async def _moderators(db: AsyncSession, number: str) -> list[str]:
    return await ordered_extensions(db, ConferenceModerator.room_number, number)


CONFERENCES: Key[ConferenceService] = Key("conference rooms")
