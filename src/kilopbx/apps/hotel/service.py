"""Wake-up calls: the only code that changes stored alarms. Ringing them is the call
engine's job (later); this keeps them valid and durable."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilopbx.apps.hotel.models import SYSTEM_PROMPT, WakeupCall
from kilopbx.apps.hotel.wire import (
    ALARM_EXISTS,
    ALARM_INVALID,
    ALARM_MISSING,
    MAX_ALARMS_PER_EXTENSION,
    NO_SUCH_EXTENSION,
    AlarmSettings,
    check_prompt,
)
from kilopbx.apps.ring_groups.config_store import config_change
from kilopbx.apps.ring_groups.lookups import missing_extensions
from kilopbx.apps.ring_groups.values import numeric_order, shown
from kilopbx.core.errors import DomainError
from kilopbx.core.registry import Key

DEFAULT_REPEATS = 1
DEFAULT_INTERVAL = 5


class WakeupService:
    def __init__(self, sessions: async_sessionmaker[Any], data_dir: Path) -> None:
        self._sessions = sessions
        self._data_dir = data_dir

    async def create(self, extensions: list[str], settings: AlarmSettings) -> None:
        """The same alarm on every extension, all or nothing."""
        if settings.prompt is not None:
            check_prompt(settings.prompt, self._data_dir)
        async with config_change(self._sessions) as db:
            await _ensure_extensions(db, extensions)
            for extension in extensions:
                alarms = await _alarms_of(db, extension)
                if len(alarms) >= MAX_ALARMS_PER_EXTENSION:
                    limit = MAX_ALARMS_PER_EXTENSION
                    raise DomainError(
                        ALARM_INVALID, detail=f"{shown(extension)} has {limit} alarms"
                    )
                _refuse_duplicate(alarms, settings, extension)
                db.add(
                    WakeupCall(
                        extension=extension,
                        minute_of_day=settings.minute_of_day,
                        kind=settings.kind,
                        weekdays=settings.weekdays,
                        repeats=settings.repeats or DEFAULT_REPEATS,
                        repeat_interval=settings.repeat_interval or DEFAULT_INTERVAL,
                        prompt=settings.prompt or SYSTEM_PROMPT,
                    )
                )

    async def query(self, extensions: list[str] | None) -> dict[str, list[WakeupCall]]:
        """Alarms per extension (extensions ascending, alarms by time then id); only
        extensions that have alarms. A single unknown extension answers 10006."""
        async with self._sessions() as db:
            if extensions is not None and len(extensions) == 1:
                await _ensure_extensions(db, extensions)
            statement = select(WakeupCall)
            if extensions is not None:
                statement = statement.where(WakeupCall.extension.in_(extensions))
            grouped: dict[str, list[WakeupCall]] = defaultdict(list)
            for alarm in await db.scalars(statement):
                grouped[alarm.extension].append(alarm)
        ordered = sorted(grouped, key=numeric_order)
        return {ext: sorted(grouped[ext], key=lambda a: (a.minute_of_day, a.id)) for ext in ordered}

    async def update(self, extension: str, alarm_id: int, settings: AlarmSettings) -> None:
        if settings.prompt is not None:
            check_prompt(settings.prompt, self._data_dir)
        async with config_change(self._sessions) as db:
            await _ensure_extensions(db, [extension])
            alarm = await db.get(WakeupCall, alarm_id)
            if alarm is None or alarm.extension != extension:
                raise DomainError(
                    ALARM_MISSING, detail=f"{shown(extension)} has no alarm {alarm_id}"
                )
            others = [a for a in await _alarms_of(db, extension) if a.id != alarm_id]
            _refuse_duplicate(others, settings, extension)
            alarm.minute_of_day = settings.minute_of_day
            alarm.kind = settings.kind
            alarm.weekdays = settings.weekdays
            if settings.repeats is not None:
                alarm.repeats = settings.repeats
            if settings.repeat_interval is not None:
                alarm.repeat_interval = settings.repeat_interval
            if settings.prompt is not None:
                alarm.prompt = settings.prompt

    async def delete(self, extensions: list[str] | None, alarm_ids: list[int] | None) -> None:
        """Delete the listed alarms (all of the extensions' alarms when `alarm_ids` is
        None); every listed id must belong to a selected extension (else 10021)."""
        async with config_change(self._sessions) as db:
            if extensions is not None and len(extensions) == 1:
                await _ensure_extensions(db, extensions)
            statement = select(WakeupCall)
            if extensions is not None:
                statement = statement.where(WakeupCall.extension.in_(extensions))
            selectable = {alarm.id for alarm in await db.scalars(statement)}
            if alarm_ids is None:
                doomed = selectable
            else:
                stray = [i for i in alarm_ids if i not in selectable]
                if stray:
                    raise DomainError(ALARM_MISSING, detail=f"alarm {stray[0]} is not selected")
                doomed = set(alarm_ids)
            if doomed:
                await db.execute(delete(WakeupCall).where(WakeupCall.id.in_(doomed)))


async def _ensure_extensions(db: AsyncSession, extensions: list[str]) -> None:
    unknown = await missing_extensions(db, extensions)
    if unknown:
        raise DomainError(NO_SUCH_EXTENSION, detail=f"no extension {shown(unknown[0])}")


async def _alarms_of(db: AsyncSession, extension: str) -> list[WakeupCall]:
    return list(await db.scalars(select(WakeupCall).where(WakeupCall.extension == extension)))


def _refuse_duplicate(alarms: list[WakeupCall], settings: AlarmSettings, extension: str) -> None:
    for alarm in alarms:
        same = (alarm.minute_of_day, alarm.kind, alarm.weekdays) == (
            settings.minute_of_day,
            settings.kind,
            settings.weekdays,
        )
        if same:
            raise DomainError(
                ALARM_EXISTS, detail=f"{shown(extension)} already has alarm {alarm.id}"
            )


WAKEUP_CALLS: Key[WakeupService] = Key("wake-up calls")
