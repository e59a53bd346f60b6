"""Conference rooms: the only code that changes their configuration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilopbx.api.errors import ApiError
from kilopbx.apps.conferences.models import ConferenceModerator, ConferenceRoom
from kilopbx.apps.conferences.wire import (
    INVALID_VALUE,
    NO_SUCH_EXTENSION,
    NUMBER_IN_USE,
    ROOM_MISSING,
    RoomChanges,
    check_pins,
)
from kilopbx.apps.numberplan import ensure_number_free
from kilopbx.apps.ring_groups import destinations
from kilopbx.apps.ring_groups.config_store import config_change
from kilopbx.apps.ring_groups.lookups import missing_extensions
from kilopbx.apps.ring_groups.values import numeric_order, shown

KIND = "conference"


@dataclass
class StoredRoom:
    room: ConferenceRoom
    moderators: list[str]


async def room_holder(db: AsyncSession, number: str) -> str | None:
    room = await db.get(ConferenceRoom, number)
    return None if room is None else f'conference room "{room.name}" ({number})'


class ConferenceService:
    def __init__(self, sessions: async_sessionmaker[Any]) -> None:
        self._sessions = sessions

    async def query(self, numbers: list[str] | None) -> list[StoredRoom]:
        async with self._sessions() as db:
            statement = select(ConferenceRoom)
            if numbers is not None:
                statement = statement.where(ConferenceRoom.number.in_(numbers))
            rooms = sorted(await db.scalars(statement), key=lambda r: numeric_order(r.number))
            return [StoredRoom(room, await _moderators(db, room.number)) for room in rooms]

    async def ensure_exists(self, number: str) -> None:
        async with self._sessions() as db:
            if await db.get(ConferenceRoom, number) is None:
                raise ApiError(ROOM_MISSING, detail=f"no conference room {shown(number)}")

    async def add(self, number: str, name: str, changes: RoomChanges) -> None:
        async with config_change(self._sessions) as db:
            await ensure_number_free(db, number, NUMBER_IN_USE)
            room = ConferenceRoom(
                number=number,
                name=name,
                participant_pin="",
                moderator_pin="",
                wait_for_moderator=False,
                allow_invite=False,
                music_on_hold=True,
                mute_on_entry=False,
                announcement="default",
            )
            db.add(room)
            await db.flush()
            await _apply(db, room, changes)

    async def update(self, number: str, changes: RoomChanges) -> None:
        async with config_change(self._sessions) as db:
            room = await db.get(ConferenceRoom, number)
            if room is None:
                raise ApiError(ROOM_MISSING, detail=f"no conference room {shown(number)}")
            await _apply(db, room, changes)

    async def delete(self, numbers: list[str] | None) -> None:
        async with config_change(self._sessions) as db:
            existing = set(await db.scalars(select(ConferenceRoom.number)))
            chosen = existing if numbers is None else set(numbers)
            unknown = sorted(chosen - existing)
            if unknown:
                raise ApiError(ROOM_MISSING, detail=f"no conference room {shown(unknown[0])}")
            await destinations.ensure_unreferenced(
                db, destinations.CONFERENCE, chosen, INVALID_VALUE
            )
            await db.execute(delete(ConferenceRoom).where(ConferenceRoom.number.in_(chosen)))


async def _apply(db: AsyncSession, room: ConferenceRoom, changes: RoomChanges) -> None:
    for attribute, value in changes.settings.items():
        setattr(room, attribute, value)
    check_pins(room)
    if changes.moderators is not None:
        unknown = await missing_extensions(db, changes.moderators)
        if unknown:
            raise ApiError(
                NO_SUCH_EXTENSION, detail=f"moderators: no extension {shown(unknown[0])}"
            )
        await db.execute(
            delete(ConferenceModerator).where(ConferenceModerator.room_number == room.number)
        )
        db.add_all(
            ConferenceModerator(room_number=room.number, extension=extension, position=index)
            for index, extension in enumerate(changes.moderators)
        )


async def _moderators(db: AsyncSession, number: str) -> list[str]:
    rows = await db.scalars(
        select(ConferenceModerator.extension)
        .where(ConferenceModerator.room_number == number)
        .order_by(ConferenceModerator.position)
    )
    return list(rows)


async def forget_extensions(db: AsyncSession, numbers: list[str]) -> None:
    await db.execute(delete(ConferenceModerator).where(ConferenceModerator.extension.in_(numbers)))


async def renumber_extension(db: AsyncSession, old: str, new: str) -> None:
    await db.execute(
        update(ConferenceModerator)
        .where(ConferenceModerator.extension == old)
        .values(extension=new)
    )
