"""timecondition/* — KiloPBX extension endpoints for business hours
(docs/api-extensions/trunks-routes.md)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from kilopbx.api.params import optional, required
from kilopbx.api.reasons import map_reasons
from kilopbx.api.router import Request, endpoint
from kilopbx.apps.timeconditions import schedule, service
from kilopbx.apps.timeconditions.models import TimeCondition
from kilopbx.apps.timeconditions.schedule import parse_schedule
from kilopbx.apps.timeconditions.service import (
    TIME_CONDITIONS,
    TimeConditionInput,
    is_open,
    local_moment,
)
from kilopbx.apps.trunks.wire_lists import parse_id_selector, parse_single_id
from kilopbx.core.errors import DomainError

if TYPE_CHECKING:
    from kilopbx.apps.timeconditions.service import TimeConditionService

TIME_INVALID = "timeconditions.time_invalid"
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")


def condition_service(req: Request) -> TimeConditionService:
    return req.pbx.registry.get(TIME_CONDITIONS)


def _input(body: dict[str, Any]) -> TimeConditionInput:
    return TimeConditionInput(
        name=optional(body, "name"),
        timezone=optional(body, "timezone"),
        weekly=optional(body, "weekly"),
        exceptions=optional(body, "exceptions"),
    )


def condition_info(condition: TimeCondition, state: str) -> dict[str, str]:
    return {
        "id": str(condition.id),
        "name": condition.name,
        "timezone": condition.timezone,
        "weekly": condition.weekly,
        "exceptions": condition.exceptions,
        "state": state,
    }


def state_word(is_open_now: bool) -> str:
    return "open" if is_open_now else "closed"


@endpoint("timecondition/query", needs_body=True)
async def query(req: Request) -> dict[str, Any]:
    service = condition_service(req)
    conditions = await service.find(parse_id_selector(required(req.body, "id")))
    now = service.clock.now()
    return {
        "timeconditions": [
            condition_info(condition, state_word(is_open(condition, now)))
            for condition in conditions
        ]
    }


@endpoint("timecondition/add", needs_body=True)
async def add(req: Request) -> dict[str, Any]:
    required(req.body, "name")
    condition = await condition_service(req).add(_input(req.body))
    return {"id": str(condition.id)}


@endpoint("timecondition/update", needs_body=True)
async def update(req: Request) -> dict[str, Any]:
    condition_id = parse_single_id(required(req.body, "id"))
    await condition_service(req).update(condition_id, _input(req.body))
    return {}


@endpoint("timecondition/delete", needs_body=True)
async def delete(req: Request) -> dict[str, Any]:
    await condition_service(req).delete(parse_id_selector(required(req.body, "id")))
    return {}


@endpoint("timecondition/check", needs_body=True)
async def check(req: Request) -> dict[str, Any]:
    """Open or closed now, or at `time` (wall-clock time of the condition's zone)."""
    service = condition_service(req)
    condition_id = parse_single_id(required(req.body, "id"))
    found = await service.find([condition_id] if condition_id is not None else [])
    condition = found[0]
    text = optional(req.body, "time")
    if text is None or text.strip() == "":
        moment = local_moment(condition, service.clock.now())
    else:
        moment = _parse_time(text.strip())
    schedule = parse_schedule(condition.weekly, condition.exceptions)
    return {"state": state_word(schedule.is_open(moment))}


def _parse_time(text: str) -> dt.datetime:
    for layout in _TIME_FORMATS:
        try:
            return dt.datetime.strptime(text, layout)
        except ValueError:
            continue
    raise DomainError(TIME_INVALID, "time is YYYY-MM-DD HH:MM[:SS]")


# the errno each reason of this feature answers on the wire (X-KiloPBX-Detail
# carries the detail)
map_reasons(
    {
        TIME_INVALID: "10908",
        schedule.WEEKLY_INVALID: "10902",
        schedule.EXCEPTIONS_INVALID: "10903",
        service.NAME_INVALID: "10900",
        service.NAME_TAKEN: "10901",
        service.TIMEZONE_INVALID: "10904",
        service.CONDITION_UNKNOWN: "10905",
        service.CONDITION_IN_USE: "10906",
        service.TOO_MANY_CONDITIONS: "10907",
    }
)
