"""Turning extension request fields into model values, and the checks spec 21 asks for.

Every failure here is errno 10017 ("the configuration could not be applied") with a
detail saying which field and why; a missing required field is 10004.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from kilopbx.apps.extensions.models import (
    FORWARD_CONDITIONS,
    FORWARD_CUSTOM,
    FORWARD_EXTENSION,
    FORWARD_MOBILE,
    FORWARD_VOICEMAIL,
)
from kilopbx.apps.extensions.passwords import (
    LOGIN_PASSWORD_MIN,
    SIP_PASSWORD_MIN,
    weakness,
)
from kilopbx.core.errors import MISSING_PARAMETER, DomainError
from kilopbx.core.scalars import scalar_text

INVALID = "extensions.invalid"
NOT_FOUND = "extensions.not_found"

NUMBER_RE = re.compile(r"[0-9]{1,7}")
ALNUM_31_RE = re.compile(r"[A-Za-z0-9]{1,31}")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+")
USERNAME_FORBIDDEN = frozenset("!%.@:;&\"'\\<>$`")
EMAIL_FORBIDDEN = frozenset(" `#;,[]=&\"'\\<>$")
USERNAME_MAX = 63
EMAIL_MAX = 127
RING_TIMEOUT_RANGE = (5, 300)
MAX_CALL_SECONDS = 86400

FORWARD_WIRE = {
    FORWARD_VOICEMAIL: "Voicemail",
    FORWARD_EXTENSION: "Extension",
    FORWARD_MOBILE: "Mobile Number",
    FORWARD_CUSTOM: "Custom Number",
}
MONITOR_MODE_WIRE = {
    "disabled": "Disabled",
    "extensive": "Extensive",
    "listen": "Listen",
    "whisper": "Whisper",
    "barge-in": "Barge-in",
}
SWITCH_WORDS = {"on": True, "yes": True, "1": True, "off": False, "no": False, "0": False}
VOICEMAIL_TO_EMAIL = ("off", "on", "custom")


def invalid(field: str, why: str) -> DomainError:
    return DomainError(INVALID, detail=f"{field}: {why}")


def text_of(body: Mapping[str, Any], field: str) -> str | None:
    """The field as text; None when absent or null. Arrays and objects are refused."""
    if field not in body or body[field] is None:
        return None
    text = scalar_text(body[field], bool_style="01")
    if text is None:
        raise invalid(field, "must be a string or a number")
    return text


def required_text(body: Mapping[str, Any], field: str) -> str:
    """A required field; absent, null, blank or not a scalar answers 10004, as the core's
    `params.required` does."""
    text = scalar_text(body.get(field), bool_style="01")
    if text is None or not text.strip():
        raise DomainError(MISSING_PARAMETER, detail=f"{field} is required")
    return text


def has_control_chars(text: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


# -- single-field parsers: wire text in, model value out ------------------------------------


def parse_number(field: str, text: str) -> str:
    text = text.strip()
    if not NUMBER_RE.fullmatch(text):
        raise invalid(field, "digits only, 1 to 7 of them")
    return text


def parse_digits(max_length: int) -> Callable[[str, str], str]:
    def parse(field: str, text: str) -> str:
        text = text.strip()
        if text and not (text.isascii() and text.isdigit()):
            raise invalid(field, "digits only")
        if len(text) > max_length:
            raise invalid(field, f"at most {max_length} digits")
        return text

    return parse


def parse_username(field: str, text: str) -> str:
    text = text.strip()
    if not text:
        raise invalid(field, "must not be empty")
    if len(text) > USERNAME_MAX:
        raise invalid(field, f"at most {USERNAME_MAX} characters")
    if has_control_chars(text) or USERNAME_FORBIDDEN & set(text):
        raise invalid(field, "must not contain control characters nor any of !%.@:;&\"'\\<>$`")
    return text


def parse_alnum(field: str, text: str) -> str:
    text = text.strip()
    if not ALNUM_31_RE.fullmatch(text):
        raise invalid(field, "letters and digits only, 1 to 31 of them")
    return text


def parse_optional_alnum(field: str, text: str) -> str:
    """Letters and digits, or empty (for caller ID: "present the extension number")."""
    text = text.strip()
    return "" if not text else parse_alnum(field, text)


def parse_max_registrations(field: str, text: str) -> int:
    value = parse_int(field, text)
    if not 1 <= value <= 5:
        raise invalid(field, "1 to 5")
    return value


def parse_int(field: str, text: str) -> int:
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise invalid(field, "a whole number")
    return int(text)


def parse_email(field: str, text: str) -> str:
    text = text.strip()
    if not text:
        return ""
    if len(text) > EMAIL_MAX:
        raise invalid(field, f"at most {EMAIL_MAX} characters")
    if has_control_chars(text) or EMAIL_FORBIDDEN & set(text) or not EMAIL_RE.fullmatch(text):
        raise invalid(field, "must look like local@domain without spaces or #;,[]=&\"'\\<>$`")
    return text


def parse_switch(field: str, text: str) -> bool:
    value = SWITCH_WORDS.get(text.strip().lower())
    if value is None:
        raise invalid(field, 'must be "on" or "off"')
    return value


def parse_choice(
    wire_names: Mapping[str, str], *aliases: tuple[str, str]
) -> Callable[[str, str], str]:
    by_wire = {wire.lower(): value for value, wire in wire_names.items()}
    by_wire.update({alias.lower(): value for alias, value in aliases})

    def parse(field: str, text: str) -> str:
        value = by_wire.get(" ".join(text.split()).lower())
        if value is None:
            raise invalid(field, "one of " + ", ".join(wire_names.values()))
        return value

    return parse


def parse_voicemail_to_email(field: str, text: str) -> str:
    value = text.strip().lower()
    if value not in VOICEMAIL_TO_EMAIL:
        raise invalid(field, "off, on or custom")
    return value


def parse_ring_timeout(field: str, text: str) -> int:
    value = parse_int(field, text)
    low, high = RING_TIMEOUT_RANGE
    if not low <= value <= high:
        raise invalid(field, f"{low} to {high} seconds")
    return value


def parse_max_duration(field: str, text: str) -> int | None:
    """None: follow the system limit; 0: unlimited; else seconds."""
    word = " ".join(text.split()).lower()
    if word in {"", "follow system"}:
        return None
    if word == "unlimited":
        return 0
    value = parse_int(field, text)
    if not 1 <= value <= MAX_CALL_SECONDS:
        raise invalid(field, f'"Follow System", "Unlimited" or 1 to {MAX_CALL_SECONDS} seconds')
    return value


def parse_password(field: str, text: str) -> str:
    """Kept as sent; the strength policy needs the merged record (see check_record)."""
    return text


def forward_fields(prefix: str, condition: str) -> dict[str, tuple[str, Callable[..., Any]]]:
    return {
        f"{prefix}transferto": (f"{condition}_forward_to", parse_choice(FORWARD_WIRE)),
        f"{prefix}transferext": (f"{condition}_forward_extension", parse_digits(7)),
        f"{prefix}transferprefix": (f"{condition}_forward_prefix", parse_digits(7)),
        f"{prefix}transfernum": (f"{condition}_forward_number", parse_digits(15)),
    }


# wire name -> (model attribute, parser): the writable fields of spec 21's settings object,
# except `loginpassword`, which is stored as a digest (see login_password_change)
WRITABLE_FIELDS: dict[str, tuple[str, Callable[[str, str], Any]]] = {
    "username": ("display_name", parse_username),
    "callerid": ("caller_id", parse_optional_alnum),
    "registername": ("auth_name", parse_alnum),
    "registerpassword": ("sip_password", parse_password),
    "maxregistrations": ("max_registrations", parse_max_registrations),
    "email": ("email", parse_email),
    "mobile": ("mobile", parse_digits(31)),
    "hasvoicemail": ("voicemail_enabled", parse_switch),
    "vmsecret": ("voicemail_pin", parse_digits(63)),
    "enablevmtoemail": ("voicemail_to_email", parse_voicemail_to_email),
    "alwaysforward": ("always_forward", parse_switch),
    **forward_fields("a", "always"),
    "noanswerforward": ("no_answer_forward", parse_switch),
    **forward_fields("n", "no_answer"),
    "busyforward": ("busy_forward", parse_switch),
    **forward_fields("b", "busy"),
    "enablemobile": ("mobility_enabled", parse_switch),
    "ringsimultaneous": ("ring_mobile_simultaneously", parse_switch),
    "mobileprefix": ("mobile_prefix", parse_digits(7)),
    "allowbeingmonitored": ("allow_being_monitored", parse_switch),
    "monitormode": ("monitor_mode", parse_choice(MONITOR_MODE_WIRE, ("Disable", "disabled"))),
    "ringtimeout": ("ring_timeout", parse_ring_timeout),
    "maxduration": ("max_call_seconds", parse_max_duration),
    "dnd": ("do_not_disturb", parse_switch),
    "callrestriction": ("call_restriction", parse_switch),
    "agentid": ("agent_id", parse_optional_alnum),
}
REQUIRED_ON_ADD = ("number", "username", "registername", "registerpassword")


def parse_changes(body: Mapping[str, Any]) -> dict[str, Any]:
    """Model attribute -> value for every writable field present in the request."""
    changes: dict[str, Any] = {}
    for wire, (attribute, parse) in WRITABLE_FIELDS.items():
        text = text_of(body, wire)
        if text is not None:
            changes[attribute] = parse(wire, text)
    return changes


# -- whole-record checks, on the stored values merged with the request ----------------------


def check_record(record: Mapping[str, Any], *, new_login_password: str | None) -> None:
    """Checks that need several fields. `record` maps model attributes to merged values."""
    number = record["number"]
    username = record["display_name"]
    reason = weakness(
        record["sip_password"], min_length=SIP_PASSWORD_MIN, number=number, username=username
    )
    if reason:
        raise invalid("registerpassword", reason)
    if new_login_password is not None:
        reason = weakness(
            new_login_password, min_length=LOGIN_PASSWORD_MIN, number=number, username=username
        )
        if reason:
            raise invalid("loginpassword", reason)
    needs_mobile = record["mobility_enabled"] or record["ring_mobile_simultaneously"]
    for condition, prefix in zip(FORWARD_CONDITIONS, "anb", strict=True):
        target = record[f"{condition}_forward_to"]
        needs_mobile = needs_mobile or target == FORWARD_MOBILE
        if target == FORWARD_CUSTOM and not record[f"{condition}_forward_number"]:
            raise invalid(f"{prefix}transfernum", "required when forwarding to Custom Number")
        if target == FORWARD_EXTENSION:
            other = record[f"{condition}_forward_extension"]
            if not other:
                raise invalid(f"{prefix}transferext", "required when forwarding to Extension")
            if other == number:
                raise invalid(f"{prefix}transferext", "an extension cannot forward to itself")
    if needs_mobile and not record["mobile"]:
        raise invalid("mobile", "required by mobility or forwarding to Mobile Number")
    if record["voicemail_to_email"] != "off" and not record["email"]:
        raise invalid("email", "required to mail voicemail")


def forward_targets(record: Mapping[str, Any]) -> dict[str, str]:
    """Wire field -> extension number for every forwarding that points at an extension."""
    targets = {}
    for condition, prefix in zip(FORWARD_CONDITIONS, "anb", strict=True):
        if record[f"{condition}_forward_to"] == FORWARD_EXTENSION:
            targets[f"{prefix}transferext"] = record[f"{condition}_forward_extension"]
    return targets


def login_password_change(text: str | None, stored_md5: str | None) -> str | None:
    """The new clear-text login password, or None when unchanged. A client that read the
    extension and writes it back sends the MD5 digest it got; that is no change."""
    if text is None or (stored_md5 is not None and text.strip().lower() == stored_md5):
        return None
    return text
