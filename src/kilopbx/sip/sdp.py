"""Session Description Protocol (RFC 4566): tolerant parser plus the model it fills.

The parser accepts what real phones send: LF-only line ends, trailing blank lines,
a missing s= or t= line and line types it does not know (kept in ``other_lines``
so that re-serialising loses nothing important).
"""

from __future__ import annotations

from kilopbx.sip.grammar import is_small_number
from kilopbx.sip.sdp_model import (
    DIRECTIONS,
    Attribute,
    Connection,
    MediaDescription,
    Origin,
    RtpMap,
    SdpParseError,
    SessionDescription,
    Timing,
    effective_direction,
)

__all__ = [
    "DIRECTIONS",
    "Connection",
    "MediaDescription",
    "Origin",
    "RtpMap",
    "SdpParseError",
    "SessionDescription",
    "Timing",
    "effective_direction",
    "parse_sdp",
]


def _int(text: str, what: str) -> int:
    # 20 digits: o= versions are often 64-bit NTP timestamps.
    if not is_small_number(text, 20):
        raise SdpParseError(f"{what} is not a number: {text[:20]!r}")
    return int(text)


def _parse_origin(value: str) -> Origin:
    parts = value.split()
    if len(parts) != 6:
        raise SdpParseError(f"o= needs 6 fields: {value[:60]!r}")
    username, session_id, version, nettype, addrtype, address = parts
    return Origin(
        username, session_id, _int(version, "session version"), address, nettype, addrtype
    )


def _parse_connection(value: str) -> Connection:
    parts = value.split()
    if len(parts) != 3:
        raise SdpParseError(f"c= needs 3 fields: {value[:60]!r}")
    nettype, addrtype, address = parts
    host, *suffix = address.split("/")
    numbers = [_int(part, "c= suffix") for part in suffix]
    if len(numbers) > 2:
        raise SdpParseError(f"bad c= address {address[:60]!r}")
    if addrtype.upper() == "IP4" and numbers:
        return Connection(
            host, nettype, addrtype, numbers[0], numbers[1] if len(numbers) > 1 else None
        )
    if len(numbers) > 1:
        raise SdpParseError(f"bad c= address {address[:60]!r}")
    return Connection(host, nettype, addrtype, None, numbers[0] if numbers else None)


def _parse_bandwidth(value: str) -> tuple[str, int]:
    kind, colon, amount = value.partition(":")
    if not colon or not kind:
        raise SdpParseError(f"bad b= line {value[:60]!r}")
    return kind, _int(amount.strip(), "bandwidth")


def _parse_media(value: str) -> MediaDescription:
    parts = value.split()
    if len(parts) < 3:
        raise SdpParseError(f"m= needs media, port and proto: {value[:60]!r}")
    media, port_text, proto, *formats = parts
    port_part, slash, count_part = port_text.partition("/")
    port = _int(port_part, "media port")
    if port > 65535:
        raise SdpParseError(f"media port out of range: {port}")
    count = _int(count_part, "port count") if slash else None
    return MediaDescription(media, port, proto, formats, count)


def _parse_attribute(value: str) -> Attribute:
    name, colon, rest = value.partition(":")
    return (name, rest) if colon else (name, None)


def _parse_timing(value: str) -> Timing:
    parts = value.split()
    if len(parts) != 2:
        raise SdpParseError(f"t= needs 2 fields: {value[:60]!r}")
    return Timing(_int(parts[0], "start time"), _int(parts[1], "stop time"))


def parse_sdp(text: str | bytes) -> SessionDescription:
    """Parse an SDP body; raises SdpParseError (a ValueError) and nothing else."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = [line.rstrip("\r") for line in text.split("\n")]
    lines = [line for line in lines if line.strip()]
    if not lines or lines[0].strip() != "v=0":
        raise SdpParseError("SDP must start with v=0")
    session: SessionDescription | None = None
    origin: Origin | None = None
    session_lines: list[tuple[str, str]] = []
    timings: list[Timing] = []
    current: MediaDescription | None = None
    for line in lines[1:]:
        if len(line) < 2 or line[1] != "=":
            raise SdpParseError(f"not an SDP line: {line[:60]!r}")
        kind, value = line[0], line[2:]
        if kind == "m":
            if session is None:
                session = _build_session(origin, session_lines, timings)
            current = _parse_media(value)
            session.media.append(current)
        elif current is not None:
            _media_line(current, kind, value)
        elif kind == "o":
            origin = _parse_origin(value)
        elif kind == "t":
            timings.append(_parse_timing(value))
        elif kind == "r" and timings:
            timings[-1].repeats.append(value)
        else:
            session_lines.append((kind, value))
    if session is None:
        session = _build_session(origin, session_lines, timings)
    return session


def _media_line(media: MediaDescription, kind: str, value: str) -> None:
    if kind == "a":
        media.attributes.append(_parse_attribute(value))
    elif kind == "c":
        media.connection = _parse_connection(value)
    elif kind == "b":
        media.bandwidths.append(_parse_bandwidth(value))
    elif kind == "i":
        media.title = value
    elif kind == "k":
        media.key = value
    else:
        media.other_lines.append((kind, value))


def _build_session(
    origin: Origin | None, session_lines: list[tuple[str, str]], timings: list[Timing]
) -> SessionDescription:
    if origin is None:
        raise SdpParseError("SDP without o= line")
    session = SessionDescription(origin, timings=timings or [Timing()])
    named = False
    for kind, value in session_lines:
        if kind == "s":
            if not named:  # a missing or repeated s= is tolerated
                session.session_name = value
                named = True
        else:
            _session_line(session, kind, value)
    return session


def _session_line(session: SessionDescription, kind: str, value: str) -> None:
    if kind == "a":
        session.attributes.append(_parse_attribute(value))
    elif kind == "c":
        session.connection = _parse_connection(value)
    elif kind == "b":
        session.bandwidths.append(_parse_bandwidth(value))
    elif kind == "e":
        session.emails.append(value)
    elif kind == "p":
        session.phones.append(value)
    elif kind == "i":
        session.information = value
    elif kind == "u":
        session.uri = value
    elif kind == "z":
        session.time_zones = value
    elif kind == "k":
        session.key = value
    else:
        session.other_lines.append((kind, value))
