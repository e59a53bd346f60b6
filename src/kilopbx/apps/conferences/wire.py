"""Conference rooms on the wire (spec 50-conference.md, conference/query and update)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kilopbx.apps.conferences.models import ConferenceRoom
from kilopbx.apps.ring_groups.values import (
    YES_NO,
    invalid,
    parse_number_list,
    parse_room_name,
    parse_yes_no,
    switch_field,
    text_field,
    yes_no,
)

ROOM_MISSING = "conferences.room_missing"
NO_SUCH_EXTENSION = "conferences.no_such_extension"
NUMBER_IN_USE = "conferences.number_in_use"
INVALID_VALUE = "conferences.invalid_value"

PIN = re.compile(r"[0-9*]{0,16}")
ANNOUNCEMENTS = ("default", "exten", "none")
MAX_MODERATORS = 100
_SWITCHES = {
    "waitformoderator": "wait_for_moderator",
    "allowinvite": "allow_invite",
    "musiconhold": "music_on_hold",
    "mute": "mute_on_entry",
}
# the participant PIN keeps the wire's spelling with the extra "e"
_PINS = {"participantepassword": "participant_pin", "moderatorpassword": "moderator_pin"}


@dataclass
class RoomChanges:
    settings: dict[str, Any] = field(default_factory=dict)
    moderators: list[str] | None = None


def parse_changes(body: dict[str, Any]) -> RoomChanges:
    changes = RoomChanges()
    settings = changes.settings
    if (text := text_field(body, "name")) is not None:
        settings["name"] = parse_room_name(text, INVALID_VALUE)
    for wire, attribute in _PINS.items():
        if (text := text_field(body, wire)) is not None:
            if not PIN.fullmatch(text.strip()):
                raise invalid(INVALID_VALUE, wire, text, "digits and * only, at most 16")
            settings[attribute] = text.strip()
    for wire, attribute in _SWITCHES.items():
        if (text := switch_field(body, wire, YES_NO)) is not None:
            settings[attribute] = parse_yes_no(text, INVALID_VALUE, wire)
    if (text := text_field(body, "prompt")) is not None:
        if text.strip().lower() not in ANNOUNCEMENTS:
            raise invalid(INVALID_VALUE, "prompt", text, f"must be one of {ANNOUNCEMENTS}")
        settings["announcement"] = text.strip().lower()
    if (text := text_field(body, "moderators")) is not None:
        changes.moderators = parse_number_list(
            text, NO_SUCH_EXTENSION, "moderators", limit=MAX_MODERATORS
        )
    return changes


def check_pins(room: ConferenceRoom) -> None:
    """Both PINs set and equal would make every participant a moderator (Proposed)."""
    if room.participant_pin and room.participant_pin == room.moderator_pin:
        raise invalid(
            INVALID_VALUE, "moderatorpassword", room.moderator_pin, "equals the participant PIN"
        )


def render(room: ConferenceRoom, moderators: list[str]) -> dict[str, str]:
    return {
        "number": room.number,
        "name": room.name,
        "participantepassword": room.participant_pin,
        "moderatorpassword": room.moderator_pin,
        "waitformoderator": yes_no(room.wait_for_moderator),
        "allowinvite": yes_no(room.allow_invite),
        "moderators": ",".join(moderators),
        "musiconhold": yes_no(room.music_on_hold),
        "mute": yes_no(room.mute_on_entry),
        "prompt": room.announcement,
    }
