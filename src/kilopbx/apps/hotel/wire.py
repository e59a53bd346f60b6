"""Wake-up calls on the wire (spec 61-hotel.md): the alarm object both ways."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kilopbx.apps.hotel.models import SYSTEM_PROMPT, WakeupCall
from kilopbx.apps.ring_groups.values import invalid, parse_int, split_list, text_field
from kilopbx.core.errors import MISSING_PARAMETER, DomainError

NO_SUCH_EXTENSION = "hotel.no_such_extension"
ALARM_INVALID = "hotel.alarm_invalid"
ALARM_MISSING = "hotel.alarm_missing"
ALARM_EXISTS = "hotel.alarm_exists"
PROMPT_MISSING = "hotel.prompt_missing"

ONETIME = "onetime"
EVERYDAY = "everyday"
CUSTOM = "custom"
KINDS = (ONETIME, EVERYDAY, CUSTOM)
TIME_OF_DAY = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")
PROMPT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_+-]{0,63}")
REPEATS_RANGE = (1, 3)
INTERVAL_RANGE = (1, 60)
MAX_ALARMS_PER_EXTENSION = 23
# custom prompts are uploaded sound files, found by name without extension
CUSTOM_PROMPT_DIR = Path("prompts") / "custom"


@dataclass
class AlarmSettings:
    minute_of_day: int
    kind: str
    weekdays: str  # "" unless custom
    repeats: int | None  # None: keep the stored value (update) or default (create)
    repeat_interval: int | None
    prompt: str | None


def alarm_object(body: dict[str, Any]) -> dict[str, Any]:
    """`wakeup` as an object; an array gives its first element (older clients)."""
    raw = body.get("wakeup")
    if isinstance(raw, list):
        raw = raw[0] if raw else None
    if raw is None or raw == {}:
        raise DomainError(MISSING_PARAMETER)
    if not isinstance(raw, dict):
        raise invalid(ALARM_INVALID, "wakeup", str(raw), "must be an alarm object")
    return raw


def parse_time(text: str) -> int:
    match = TIME_OF_DAY.fullmatch(text.strip())
    if match is None:
        raise invalid(ALARM_INVALID, "time", text, "must be HH:MM, 00:00-23:59")
    return int(match.group(1)) * 60 + int(match.group(2))


def format_time(minute_of_day: int) -> str:
    return f"{minute_of_day // 60:02d}:{minute_of_day % 60:02d}"


def parse_weekdays(text: str) -> str:
    days = split_list(text)
    if not days or any(day not in "0123456" or len(day) != 1 for day in days):
        raise invalid(ALARM_INVALID, "weekdays", text, "must be days 0-6 (0 = Sunday)")
    return ",".join(sorted(days))


def _required(alarm: dict[str, Any], key: str) -> str:
    text = text_field(alarm, key)
    if text is None or not text.strip():
        raise DomainError(MISSING_PARAMETER)
    return text


def parse_alarm(alarm: dict[str, Any]) -> AlarmSettings:
    time_text = _required(alarm, "time")
    kind_text = _required(alarm, "type")
    kind = kind_text.strip().lower()
    if kind not in KINDS:
        raise invalid(ALARM_INVALID, "type", kind_text, f"must be one of {KINDS}")
    minute_of_day = parse_time(time_text)
    weekdays = parse_weekdays(_required(alarm, "weekdays")) if kind == CUSTOM else ""
    repeats = interval = prompt = None
    if (text := text_field(alarm, "repeats")) is not None:
        repeats = parse_int(text, ALARM_INVALID, "repeats", *REPEATS_RANGE)
    if (text := text_field(alarm, "repeatinterval")) is not None:
        interval = parse_int(text, ALARM_INVALID, "repeatinterval", *INTERVAL_RANGE)
    if (text := text_field(alarm, "prompt")) is not None and text.strip():
        prompt = text.strip()
    return AlarmSettings(minute_of_day, kind, weekdays, repeats, interval, prompt)


def check_prompt(name: str, data_dir: Path) -> None:
    """The system prompt, or an uploaded file <data_dir>/prompts/custom/<name>.*"""
    if name == SYSTEM_PROMPT:
        return
    if PROMPT_NAME.fullmatch(name):
        folder = data_dir / CUSTOM_PROMPT_DIR
        if folder.is_dir() and any(p.stem == name and p.is_file() for p in folder.iterdir()):
            return
    raise invalid(PROMPT_MISSING, "prompt", name, "no such prompt file")


def render(alarm: WakeupCall) -> dict[str, str]:
    answer = {"wakeupid": str(alarm.id), "time": format_time(alarm.minute_of_day)}
    answer["type"] = alarm.kind
    if alarm.kind == CUSTOM:
        answer["weekdays"] = alarm.weekdays
    answer["repeats"] = str(alarm.repeats)
    answer["repeatinterval"] = str(alarm.repeat_interval)
    answer["prompt"] = alarm.prompt
    return answer
