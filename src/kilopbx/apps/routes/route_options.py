"""KiloPBX outbound-route options the wire format lacks (31-routes.md, last section):
a caller-number pattern, the caller ID presented, a PIN and call recording."""

from __future__ import annotations

import re

from kilopbx.apps.routes.patterns import compile_pattern
from kilopbx.apps.trunks import options
from kilopbx.apps.trunks.options import Option
from kilopbx.core.errors import DomainError

CALLER_PATTERN_INVALID = "routes.caller_pattern_invalid"
CALLER_ID_INVALID = "routes.route_options.caller_id_invalid"
CALLER_NAME_INVALID = "routes.caller_name_invalid"
PIN_INVALID = "routes.pin_invalid"
RECORD_INVALID = "routes.record_invalid"
_PIN = re.compile(r"[0-9]{0,16}")


def caller_pattern(text: str) -> str:
    value = text.strip()
    compile_pattern(value, CALLER_PATTERN_INVALID)
    return value


def pin(text: str) -> str:
    value = text.strip()
    if not _PIN.fullmatch(value):
        raise DomainError(PIN_INVALID, "a PIN is up to 16 digits")
    return value


OPTIONS: tuple[Option, ...] = (
    Option("callerpattern", "caller_pattern", caller_pattern),
    Option(
        "callerid",
        "caller_id_number",
        lambda text: options.caller_id_number(text, CALLER_ID_INVALID),
    ),
    Option(
        "callername",
        "caller_id_name",
        lambda text: options.caller_id_name(text, CALLER_NAME_INVALID),
    ),
    Option("pin", "pin", pin),
    Option(
        "record", "record", lambda text: options.yes_no(text, RECORD_INVALID), options.yes_no_text
    ),
)
