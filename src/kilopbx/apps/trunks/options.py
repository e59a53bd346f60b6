"""KiloPBX trunk settings that the API 2.0 wire format lacks (30-trunks.md, last section):
codec preference, transport, outbound proxy, enable flag, default caller ID, channel
limit, DTMF mode, qualify interval, registration expiry and caller identity headers.

Each rule takes the wire text and returns the stored value or raises DomainError with the
reason of that setting; the trunk endpoints map it to the KiloPBX errno documented in
docs/api-extensions/trunks-routes.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kilopbx.apps.trunks.validation import is_host
from kilopbx.apps.trunks.wire_lists import has_control_characters, split_list
from kilopbx.core.errors import DomainError
from kilopbx.core.scalars import scalar_text

CODECS_INVALID = "trunks.codecs_invalid"
TRANSPORT_INVALID = "trunks.transport_invalid"
PROXY_INVALID = "trunks.proxy_invalid"
ENABLED_INVALID = "trunks.enabled_invalid"
CALLER_ID_INVALID = "trunks.caller_id_invalid"
CALLER_NAME_INVALID = "trunks.caller_name_invalid"
MAX_CHANNELS_INVALID = "trunks.max_channels_invalid"
DTMF_MODE_INVALID = "trunks.dtmf_mode_invalid"
QUALIFY_INVALID = "trunks.qualify_invalid"
EXPIRY_INVALID = "trunks.expiry_invalid"
IDENTITY_INVALID = "trunks.identity_invalid"
INBOUND_CONTROL_INVALID = "trunks.inbound_control_invalid"

# codec names we store, with the SDP / common spellings clients use for them
CODEC_ALIASES = {
    "ulaw": "ulaw",
    "pcmu": "ulaw",
    "g711u": "ulaw",
    "alaw": "alaw",
    "pcma": "alaw",
    "g711a": "alaw",
    "g722": "g722",
    "g729": "g729",
}
TRANSPORTS = ("udp", "tcp", "tls")
DTMF_MODES = {"rfc4733": "rfc4733", "rfc2833": "rfc4733", "inband": "inband", "info": "info"}
_CALLER_ID = re.compile(r"\+?[0-9*#]{1,32}")
_CALLER_NAME_FORBIDDEN = set('"<>\\')
MAX_CHANNELS = 10000


def codecs(text: str) -> str:
    """Codec preference, most preferred first: "g722,ulaw" (aliases such as PCMU ok)."""
    names = [CODEC_ALIASES.get(item.lower()) for item in split_list(text)]
    if not names or None in names:
        raise DomainError(
            CODECS_INVALID, f"codecs: a list of {', '.join(sorted(set(CODEC_ALIASES.values())))}"
        )
    if len(set(names)) != len(names):
        raise DomainError(CODECS_INVALID, "codecs: a codec is listed twice")
    return ",".join(name for name in names if name)


def transport(text: str) -> str:
    value = text.strip().lower()
    if value not in TRANSPORTS:
        raise DomainError(TRANSPORT_INVALID, "transport must be udp, tcp or tls")
    return value


def outbound_proxy(text: str) -> str:
    """ "" (none), or host[:port]; IPv6 with a port in brackets."""
    value = text.strip()
    if value == "":
        return ""
    address, port = value, ""
    if value.startswith("["):
        end = value.find("]")
        address, rest = value[: end + 1], value[end + 1 :]
        if end < 0 or (rest and not rest.startswith(":")):
            raise DomainError(PROXY_INVALID, "outbound proxy is host[:port]")
        port = rest[1:]
    elif value.count(":") == 1:
        address, port = value.split(":")
    if not is_host(address) or (port and not _valid_port(port)) or value.endswith(":"):
        raise DomainError(PROXY_INVALID, "outbound proxy is host[:port]")
    return value


def _valid_port(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 5 and 1 <= int(text) <= 65535


def yes_no(text: str, reason: str = ENABLED_INVALID) -> bool:
    value = text.strip().lower()
    if value in {"yes", "1", "on"}:
        return True
    if value in {"no", "0", "off"}:
        return False
    raise DomainError(reason, "yes or no")


def enabled(text: str) -> bool:
    return yes_no(text, ENABLED_INVALID)


def inbound_control(text: str) -> bool:
    return yes_no(text, INBOUND_CONTROL_INVALID)


def caller_id_number(text: str, reason: str = CALLER_ID_INVALID) -> str:
    value = text.strip()
    if value and not _CALLER_ID.fullmatch(value):
        raise DomainError(reason, "caller ID: up to 32 digits, * or #, optional +")
    return value


def caller_id_name(text: str, reason: str = CALLER_NAME_INVALID) -> str:
    value = text.strip()
    bad = has_control_characters(value) or any(ch in _CALLER_NAME_FORBIDDEN for ch in value)
    if len(value) > 63 or bad:
        raise DomainError(reason, 'caller name: up to 63 characters, no " < > \\')
    return value


def _bounded_int(text: str, low: int, high: int, reason: str, *, zero_ok: bool) -> int:
    value = text.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 6:
        raise DomainError(reason, f"a whole number {low}-{high}")
    number = int(value)
    if not (low <= number <= high or (zero_ok and number == 0)):
        raise DomainError(reason, f"a whole number {low}-{high}")
    return number


def max_channels(text: str) -> int:
    return _bounded_int(text, 0, MAX_CHANNELS, MAX_CHANNELS_INVALID, zero_ok=True)


def dtmf_mode(text: str) -> str:
    value = DTMF_MODES.get(text.strip().lower())
    if value is None:
        raise DomainError(DTMF_MODE_INVALID, "dtmfmode must be rfc4733, inband or info")
    return value


def qualify_seconds(text: str) -> int:
    return _bounded_int(text, 5, 3600, QUALIFY_INVALID, zero_ok=True)


def register_expiry_seconds(text: str) -> int:
    return _bounded_int(text, 60, 86400, EXPIRY_INVALID, zero_ok=False)


IDENTITY_HEADERS = ("pai", "rpid")


def identity_headers(text: str) -> str:
    """Which caller identity headers the provider gets: "pai", "rpid", both as
    "pai,rpid", or "" / "none" for neither (From only)."""
    value = text.strip().lower()
    names = [] if value == "none" else split_list(value)
    if any(name not in IDENTITY_HEADERS for name in names) or len(set(names)) != len(names):
        raise DomainError(IDENTITY_INVALID, "identityheaders: pai, rpid, both, or none")
    return ",".join(name for name in IDENTITY_HEADERS if name in names)


@dataclass(frozen=True)
class Option:
    wire_name: str
    attribute: str  # on the row that stores it (a Trunk, an OutboundRoute)
    parse: Callable[[str], Any]
    to_wire: Callable[[Any], str] = str


def yes_no_text(value: Any) -> str:
    return "yes" if value else "no"


def sent_options(body: dict[str, Any], available: tuple[Option, ...]) -> dict[str, str]:
    """The wire texts of the options a request sends, keyed by wire name."""
    sent = {
        option.wire_name: scalar_text(body[option.wire_name]) if option.wire_name in body else None
        for option in available
    }
    return {name: text for name, text in sent.items() if text is not None}


def options_info(row: Any, available: tuple[Option, ...]) -> dict[str, str]:
    """The options' wire values as `row` stores them, in `available` order."""
    return {
        option.wire_name: option.to_wire(getattr(row, option.attribute)) for option in available
    }


def apply_options(row: Any, values: dict[str, str], available: tuple[Option, ...]) -> None:
    """Set the options in `values` (keyed by wire name) on `row`; every one is checked
    before any is set."""
    parsed = {
        option.attribute: option.parse(values[option.wire_name])
        for option in available
        if option.wire_name in values
    }
    for attribute, value in parsed.items():
        setattr(row, attribute, value)


# wire order of trunk/query_settings
OPTIONS: tuple[Option, ...] = (
    Option("enabled", "enabled", enabled, yes_no_text),
    Option("transport", "transport", transport),
    Option("outboundproxy", "outbound_proxy", outbound_proxy),
    Option("codecs", "codecs", codecs),
    Option("callerid", "caller_id_number", caller_id_number),
    Option("callername", "caller_id_name", caller_id_name),
    Option("maxchannels", "max_channels", max_channels),
    Option("dtmfmode", "dtmf_mode", dtmf_mode),
    Option("qualify", "qualify_seconds", qualify_seconds),
    Option("regexpiry", "register_expiry_seconds", register_expiry_seconds),
    Option("identityheaders", "identity_headers", identity_headers),
    Option("inboundcontrol", "inbound_control", inbound_control, yes_no_text),
)
