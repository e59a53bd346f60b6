"""Queues on the wire (spec 41-queues.md): spellings of the enumerations, parsing of
queue/update fields into typed changes, and the queue/query shape."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kilopbx.apps.queues.models import Queue
from kilopbx.apps.ring_groups import destinations as dest
from kilopbx.apps.ring_groups.values import (
    ON_OFF,
    invalid,
    number_or_alias,
    on_off,
    parse_choice,
    parse_int,
    parse_ivr_queue_name,
    parse_number_list,
    parse_on_off,
    parse_prompt,
    split_list,
    switch_field,
    text_field,
)

QUEUE_MISSING = "queues.queue_missing"
QUEUE_INVALID = "queues.queue_invalid"
NUMBER_IN_USE = "queues.number_in_use"

# wire spelling -> stored name, and back
STRATEGIES = {
    "Ring All": "ringall",
    "Least Recent": "leastrecent",
    "Fewest Calls": "fewestcalls",
    "Random": "random",
    "Rrmemory": "rrmemory",
    "Linear": "linear",
}
ACTIONS = {
    "Hang up": dest.HANGUP,
    "Extension": dest.EXTENSION,
    "Voicemail": dest.VOICEMAIL,
    "IVR": dest.IVR,
    "Ring Group": dest.RING_GROUP,
    "Queue": dest.QUEUE,
    "Conference": dest.CONFERENCE,
    "Fax to Email": dest.FAX_TO_EMAIL,
    "Dial by name": dest.DIAL_BY_NAME,
}
ACTION_ALIASES = {"hangup": dest.HANGUP}  # the v1.1 spelling
ANNOUNCE_FREQUENCIES = (0, 15, 30, 45, 60, 120, 180, 240, 300, 600, 1200)
BREAKOUT_KEYS = ("None", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#")
EMPTY_CONDITIONS = ("1", "2", "3")
AGENT_PASSWORD = re.compile(r"[0-9]{0,127}")
MAX_AGENTS = 200

# wire field -> (attribute, parser) for the plain fields of queue/update
_RANGES = {
    "agenttimeout": ("agent_timeout", 5, 300),
    "wrapuptime": ("wrapup_time", 0, 3600),
    "retry": ("retry", 0, 300),
    "maxwaittime": ("max_wait_time", 0, 86400),
}
_SWITCHES = {
    "ringinuse": "ring_in_use",
    "leavewhenempty": "leave_when_empty",
    "announcepos": "announce_position",
    "announceholdtime": "announce_hold_time",
}
_FREQUENCIES = {"announcefreq": "announce_frequency", "userannouncefreq": "user_announce_frequency"}
_PROMPTS = {"userannounce": "user_announce"}


@dataclass
class QueueChanges:
    settings: dict[str, Any]  # stored attribute -> new value
    agents: list[str] | None = None
    failover_type: str | None = None
    failover_value: str | None = None
    breakout_type: str | None = None
    breakout_value: str | None = None


def selected_number(body: dict[str, Any]) -> str | None:
    """`number`, or the v1.1 alias `queueid` when `number` is absent."""
    return number_or_alias(body, "queueid")


def parse_strategy(text: str) -> str:
    for spelling, stored in STRATEGIES.items():
        if text.strip().lower() == spelling.lower():
            return stored
    raise invalid(QUEUE_INVALID, "ringstrategy", text, f"must be one of {list(STRATEGIES)}")


def parse_action(text: str, field: str) -> str:
    lowered = text.strip().lower()
    if lowered in ACTION_ALIASES:
        return ACTION_ALIASES[lowered]
    for spelling, stored in ACTIONS.items():
        if lowered == spelling.lower():
            return stored
    raise invalid(QUEUE_INVALID, field, text, f"must be one of {list(ACTIONS)}")


def action_spelling(stored: str) -> str:
    for spelling, value in ACTIONS.items():
        if value == stored:
            return spelling
    return "Hang up"


def parse_empty_conditions(text: str, field: str) -> str:
    items = split_list(text)
    if not items or any(item not in EMPTY_CONDITIONS for item in items):
        raise invalid(QUEUE_INVALID, field, text, "must be a list of 1, 2 and 3")
    return ",".join(sorted(items))


def parse_breakout_key(text: str) -> str:
    stripped = text.strip()
    if stripped.lower() == "none":
        return "None"
    if stripped not in BREAKOUT_KEYS:
        raise invalid(QUEUE_INVALID, "breakoutkey", text, "must be None, 0-9, * or #")
    return stripped


def parse_changes(body: dict[str, Any]) -> QueueChanges:
    """Every queue/update field sent, checked for form; unknown fields are ignored."""
    settings: dict[str, Any] = {}
    changes = QueueChanges(settings)
    if (text := text_field(body, "queuename")) is not None:
        settings["name"] = parse_ivr_queue_name(text, QUEUE_INVALID, "queuename")
    if (text := text_field(body, "password")) is not None:
        if not AGENT_PASSWORD.fullmatch(text.strip()):
            raise invalid(QUEUE_INVALID, "password", text, "digits only, at most 127")
        settings["agent_password"] = text.strip()
    if (text := text_field(body, "ringstrategy")) is not None:
        settings["ring_strategy"] = parse_strategy(text)
    for field, (attribute, low, high) in _RANGES.items():
        if (text := text_field(body, field)) is not None:
            settings[attribute] = parse_int(text, QUEUE_INVALID, field, low, high)
    for field, attribute in _SWITCHES.items():
        if (text := switch_field(body, field, ON_OFF)) is not None:
            settings[attribute] = parse_on_off(text, QUEUE_INVALID, field)
    for field, attribute in _FREQUENCIES.items():
        if (text := text_field(body, field)) is not None:
            settings[attribute] = parse_choice(text, QUEUE_INVALID, field, ANNOUNCE_FREQUENCIES)
    for field, attribute in _PROMPTS.items():
        if (text := text_field(body, field)) is not None:
            settings[attribute] = parse_prompt(text, QUEUE_INVALID, field)
    if (text := switch_field(body, "joinempty", ON_OFF)) is not None:
        settings["join_when_empty"] = parse_on_off(text, QUEUE_INVALID, "joinempty")
    # the inverse switch wins when both are sent (spec 41, Proposed)
    if (text := switch_field(body, "disallow_to_join_when_empty", ON_OFF)) is not None:
        field = "disallow_to_join_when_empty"
        settings["join_when_empty"] = not parse_on_off(text, QUEUE_INVALID, field)
    for field, attribute in (
        ("empty_defined_for_disallow_to_join_when_empty", "empty_conditions_join"),
        ("empty_defined_for_leave_empty", "empty_conditions_leave"),
    ):
        if (text := text_field(body, field)) is not None:
            settings[attribute] = parse_empty_conditions(text, field)
    if (text := text_field(body, "breakoutkey")) is not None:
        settings["breakout_key"] = parse_breakout_key(text)
    if (text := text_field(body, "agents")) is not None:
        changes.agents = parse_number_list(text, QUEUE_INVALID, "agents", limit=MAX_AGENTS)
    if (text := text_field(body, "failoveraction")) is not None:
        changes.failover_type = parse_action(text, "failoveraction")
    changes.failover_value = text_field(body, "failoverdest")
    if (text := text_field(body, "breakoutaction")) is not None:
        changes.breakout_type = parse_action(text, "breakoutaction")
    changes.breakout_value = text_field(body, "breakoutdest")
    return changes


def _prompt(name: str) -> str:
    return name or "none"


def render(queue: Queue, static_agents: list[str], dynamic_agents: list[str]) -> dict[str, str]:
    strategy = next((s for s, v in STRATEGIES.items() if v == queue.ring_strategy), "Ring All")
    return {
        "number": queue.number,
        "queuename": queue.name,
        "password": queue.agent_password,
        "ringstrategy": strategy,
        "failoveraction": action_spelling(queue.failover_type),
        "failoverdest": queue.failover_dest,
        "agents": ",".join(static_agents),
        "dynamicagents": ",".join(dynamic_agents),
        "agenttimeout": str(queue.agent_timeout),
        "agentannounce": _prompt(queue.agent_announce),
        "wrapuptime": str(queue.wrapup_time),
        "ringinuse": on_off(queue.ring_in_use),
        "retry": str(queue.retry),
        "musiconhold": queue.music_on_hold,
        "maxwaittime": str(queue.max_wait_time),
        "joinempty": on_off(queue.join_when_empty),
        "leavewhenempty": on_off(queue.leave_when_empty),
        "joinannounce": _prompt(queue.join_announce),
        "announcepos": on_off(queue.announce_position),
        "announcefreq": str(queue.announce_frequency),
        "announceholdtime": on_off(queue.announce_hold_time),
        "userannounce": _prompt(queue.user_announce),
        "userannouncefreq": str(queue.user_announce_frequency),
        "breakoutkey": queue.breakout_key,
        "breakoutaction": action_spelling(queue.breakout_type),
        "breakoutdest": queue.breakout_dest,
        "idannouncement": _prompt(queue.id_announcement),
        "satisfactionsurvey": _prompt(queue.satisfaction_survey),
        "disallow_to_join_when_empty": on_off(not queue.join_when_empty),
        "empty_defined_for_disallow_to_join_when_empty": queue.empty_conditions_join,
        "empty_defined_for_leave_empty": queue.empty_conditions_leave,
    }
