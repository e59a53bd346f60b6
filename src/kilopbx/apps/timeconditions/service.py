"""The only place that changes time conditions; answers "open now?" for routing."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilopbx.apps.routes.models import InboundRoute
from kilopbx.apps.timeconditions.models import TimeCondition
from kilopbx.apps.timeconditions.schedule import parse_exceptions, parse_schedule, parse_weekly
from kilopbx.apps.trunks.config_lock import config_transaction
from kilopbx.apps.trunks.wire_lists import has_control_characters
from kilopbx.clock import Clock
from kilopbx.core.errors import DomainError
from kilopbx.core.registry import Key

NAME_INVALID = "timeconditions.name_invalid"
NAME_TAKEN = "timeconditions.name_taken"
TIMEZONE_INVALID = "timeconditions.timezone_invalid"
CONDITION_UNKNOWN = "timeconditions.condition_unknown"
CONDITION_IN_USE = "timeconditions.condition_in_use"
TOO_MANY_CONDITIONS = "timeconditions.too_many_conditions"


@dataclass
class TimeConditionInput:
    """Values sent in an add/update request; None: not sent."""

    name: str | None = None
    timezone: str | None = None
    weekly: str | None = None
    exceptions: str | None = None


def condition_name(text: str) -> str:
    if not 1 <= len(text) <= 63 or "," in text or has_control_characters(text):
        raise DomainError(NAME_INVALID, "a name is 1-63 characters without commas")
    return text


def time_zone(text: str) -> str:
    value = text.strip()
    if value == "":
        return ""
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise DomainError(TIMEZONE_INVALID, "not an IANA time zone name") from exc
    return value


def local_moment(condition: TimeCondition, epoch: float) -> dt.datetime:
    """The wall-clock time of the condition's zone ("" = the PBX's local time)."""
    if condition.timezone:
        return dt.datetime.fromtimestamp(epoch, zoneinfo.ZoneInfo(condition.timezone))
    return dt.datetime.fromtimestamp(epoch)


def is_open(condition: TimeCondition, epoch: float) -> bool:
    schedule = parse_schedule(condition.weekly, condition.exceptions)
    return schedule.is_open(local_moment(condition, epoch))


class TimeConditionService:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, *, max_conditions: int
    ) -> None:
        self._sessions = sessions
        self.clock = clock
        self.max_conditions = max_conditions

    async def find(self, ids: list[int] | None) -> list[TimeCondition]:
        async with self._sessions() as db:
            query = select(TimeCondition).order_by(TimeCondition.id)
            if ids is not None:
                query = query.where(TimeCondition.id.in_(ids))
            found = list((await db.execute(query)).scalars())
        if ids is not None and not found:
            raise DomainError(CONDITION_UNKNOWN)
        return found

    async def add(self, request: TimeConditionInput) -> TimeCondition:
        condition = TimeCondition(timezone="", weekly="", exceptions="")
        _apply(condition, request)
        async with config_transaction(self._sessions) as db:
            count = await db.scalar(select(func.count()).select_from(TimeCondition))
            if (count or 0) >= self.max_conditions:
                raise DomainError(TOO_MANY_CONDITIONS, f"at most {self.max_conditions}")
            await _check_unique(db, condition)
            db.add(condition)
        return condition

    async def update(self, condition_id: int | None, request: TimeConditionInput) -> None:
        async with config_transaction(self._sessions) as db:
            condition = await locked_condition(db, condition_id)
            _apply(condition, request)
            await _check_unique(db, condition)

    async def delete(self, ids: list[int] | None) -> None:
        """All or nothing; refused while an inbound route uses a condition."""
        async with config_transaction(self._sessions) as db:
            query = select(TimeCondition).with_for_update()
            if ids is not None:
                query = query.where(TimeCondition.id.in_(ids))
            found = list((await db.execute(query)).scalars())
            if ids is not None and len(found) != len(ids):
                raise DomainError(CONDITION_UNKNOWN)
            doomed = [condition.id for condition in found]
            users = await db.execute(
                select(InboundRoute.name).where(InboundRoute.time_condition_id.in_(doomed))
            )
            user = users.first()
            if user is not None:
                raise DomainError(CONDITION_IN_USE, f"inbound route {user.name} uses it")
            for condition in found:
                await db.delete(condition)


async def locked_condition(db: AsyncSession, condition_id: int | None) -> TimeCondition:
    if condition_id is None:
        raise DomainError(CONDITION_UNKNOWN)
    query = select(TimeCondition).where(TimeCondition.id == condition_id).with_for_update()
    condition = (await db.execute(query)).scalar_one_or_none()
    if condition is None:
        raise DomainError(CONDITION_UNKNOWN)
    return condition


def _apply(condition: TimeCondition, request: TimeConditionInput) -> None:
    if request.name is not None:
        condition.name = condition_name(request.name)
    if request.timezone is not None:
        condition.timezone = time_zone(request.timezone)
    if request.weekly is not None:
        condition.weekly = parse_weekly(request.weekly)[1]
    if request.exceptions is not None:
        condition.exceptions = parse_exceptions(request.exceptions)[1]


async def _check_unique(db: AsyncSession, condition: TimeCondition) -> None:
    query = select(TimeCondition.id).where(TimeCondition.name == condition.name)
    if condition.id is not None:
        query = query.where(TimeCondition.id != condition.id)
    if (await db.execute(query.limit(1))).first() is not None:
        raise DomainError(NAME_TAKEN, f"time condition name {condition.name} is used")


TIME_CONDITIONS: Key[TimeConditionService] = Key("time conditions")
