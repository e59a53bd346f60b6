"""SDP data model and serialiser (RFC 4566); parsing lives in kilopbx.sip.sdp."""

from __future__ import annotations

from dataclasses import dataclass, field

from kilopbx.sip.grammar import is_small_number

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
]

DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")

# Static payload types (RFC 3551 §6) used when an offer omits their rtpmap.
_STATIC_PAYLOADS: dict[int, tuple[str, int, int | None]] = {
    0: ("PCMU", 8000, None), 3: ("GSM", 8000, None), 4: ("G723", 8000, None),
    8: ("PCMA", 8000, None), 9: ("G722", 8000, None), 13: ("CN", 8000, None),
    18: ("G729", 8000, None),
}  # fmt: skip

Attribute = tuple[str, str | None]


class SdpParseError(ValueError):
    """An SDP body that cannot be understood."""


@dataclass(slots=True)
class Origin:
    username: str
    session_id: str
    session_version: int
    address: str
    nettype: str = "IN"
    addrtype: str = "IP4"

    def __str__(self) -> str:
        return (
            f"{self.username} {self.session_id} {self.session_version} "
            f"{self.nettype} {self.addrtype} {self.address}"
        )


@dataclass(slots=True)
class Connection:
    address: str
    nettype: str = "IN"
    addrtype: str = "IP4"
    ttl: int | None = None  # IP4 multicast only
    count: int | None = None  # number of multicast addresses

    def __str__(self) -> str:
        suffix = ""
        if self.ttl is not None:
            suffix += f"/{self.ttl}"
        if self.count is not None:
            suffix += f"/{self.count}"
        return f"{self.nettype} {self.addrtype} {self.address}{suffix}"


@dataclass(slots=True)
class Timing:
    start: int = 0
    stop: int = 0
    repeats: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RtpMap:
    payload_type: int
    encoding: str
    clock_rate: int
    channels: int | None = None  # None when not given (one channel for audio)


def _get_attribute(attributes: list[Attribute], name: str) -> str | None:
    for key, value in attributes:
        if key == name:
            return value if value is not None else ""
    return None


def _direction_of(attributes: list[Attribute]) -> str | None:
    found = None
    for key, _ in attributes:
        if key in DIRECTIONS:
            found = key
    return found


@dataclass(slots=True)
class MediaDescription:
    media: str
    port: int
    proto: str
    formats: list[str] = field(default_factory=list)
    port_count: int | None = None
    title: str | None = None
    connection: Connection | None = None
    bandwidths: list[tuple[str, int]] = field(default_factory=list)
    key: str | None = None
    attributes: list[Attribute] = field(default_factory=list)
    other_lines: list[tuple[str, str]] = field(default_factory=list)

    def get_attribute(self, name: str) -> str | None:
        """Value of the first ``a=name``; '' for a property attribute; None if absent."""
        return _get_attribute(self.attributes, name)

    def get_attributes(self, name: str) -> list[str]:
        return [value or "" for key, value in self.attributes if key == name]

    @property
    def rtpmaps(self) -> list[RtpMap]:
        """rtpmap entries in format order; static payload types fill in when omitted."""
        explicit: dict[int, RtpMap] = {}
        for value in self.get_attributes("rtpmap"):
            entry = _parse_rtpmap(value)
            if entry is not None:
                explicit.setdefault(entry.payload_type, entry)
        result = []
        for fmt in self.formats:
            if not is_small_number(fmt):
                continue
            payload_type = int(fmt)
            if payload_type in explicit:
                result.append(explicit[payload_type])
            elif payload_type in _STATIC_PAYLOADS:
                result.append(RtpMap(payload_type, *_STATIC_PAYLOADS[payload_type]))
        return result

    def rtpmap(self, payload_type: int) -> RtpMap | None:
        for entry in self.rtpmaps:
            if entry.payload_type == payload_type:
                return entry
        return None

    @property
    def fmtp(self) -> dict[str, str]:
        """Format parameters by format (payload type as a string)."""
        result: dict[str, str] = {}
        for value in self.get_attributes("fmtp"):
            fmt, _, params = value.partition(" ")
            result.setdefault(fmt, params.strip())
        return result

    @property
    def direction(self) -> str | None:
        """The media-level direction attribute, None when the media line has none."""
        return _direction_of(self.attributes)

    def set_direction(self, direction: str) -> None:
        if direction not in DIRECTIONS:
            raise ValueError(f"unknown direction {direction!r}")
        self.attributes = [a for a in self.attributes if a[0] not in DIRECTIONS]
        self.attributes.append((direction, None))

    @property
    def ptime(self) -> int | None:
        return _milliseconds(self.get_attribute("ptime"))

    @property
    def maxptime(self) -> int | None:
        return _milliseconds(self.get_attribute("maxptime"))

    def lines(self) -> list[str]:
        port = self.port if self.port_count is None else f"{self.port}/{self.port_count}"
        out = [f"m={' '.join([self.media, str(port), self.proto, *self.formats])}"]
        if self.title is not None:
            out.append(f"i={self.title}")
        if self.connection is not None:
            out.append(f"c={self.connection}")
        out.extend(f"b={kind}:{value}" for kind, value in self.bandwidths)
        if self.key is not None:
            out.append(f"k={self.key}")
        out.extend(_attribute_line(attribute) for attribute in self.attributes)
        out.extend(f"{kind}={value}" for kind, value in self.other_lines)
        return out


@dataclass(slots=True)
class SessionDescription:
    origin: Origin
    session_name: str = "-"
    version: int = 0
    information: str | None = None
    uri: str | None = None
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    connection: Connection | None = None
    bandwidths: list[tuple[str, int]] = field(default_factory=list)
    timings: list[Timing] = field(default_factory=lambda: [Timing()])
    time_zones: str | None = None
    key: str | None = None
    attributes: list[Attribute] = field(default_factory=list)
    media: list[MediaDescription] = field(default_factory=list)
    other_lines: list[tuple[str, str]] = field(default_factory=list)

    def get_attribute(self, name: str) -> str | None:
        return _get_attribute(self.attributes, name)

    @property
    def direction(self) -> str | None:
        return _direction_of(self.attributes)

    def __str__(self) -> str:
        return "".join(f"{line}\r\n" for line in self.lines())

    def to_bytes(self) -> bytes:
        return str(self).encode("utf-8")

    def lines(self) -> list[str]:
        out = [f"v={self.version}", f"o={self.origin}", f"s={self.session_name}"]
        optional = (("i", self.information), ("u", self.uri))
        out.extend(f"{kind}={value}" for kind, value in optional if value is not None)
        out.extend(f"e={email}" for email in self.emails)
        out.extend(f"p={phone}" for phone in self.phones)
        if self.connection is not None:
            out.append(f"c={self.connection}")
        out.extend(f"b={kind}:{value}" for kind, value in self.bandwidths)
        for timing in self.timings:
            out.append(f"t={timing.start} {timing.stop}")
            out.extend(f"r={repeat}" for repeat in timing.repeats)
        if self.time_zones is not None:
            out.append(f"z={self.time_zones}")
        if self.key is not None:
            out.append(f"k={self.key}")
        out.extend(_attribute_line(attribute) for attribute in self.attributes)
        out.extend(f"{kind}={value}" for kind, value in self.other_lines)
        for media in self.media:
            out.extend(media.lines())
        return out


def effective_direction(session: SessionDescription, media: MediaDescription) -> str:
    """Media direction, falling back to the session level, then sendrecv (RFC 4566 §6)."""
    return media.direction or session.direction or "sendrecv"


def _attribute_line(attribute: Attribute) -> str:
    name, value = attribute
    return f"a={name}" if value is None else f"a={name}:{value}"


def _milliseconds(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(float(value.split()[0]))
    except (ValueError, OverflowError):  # float() of a long digit string is inf
        return None


def _parse_rtpmap(value: str) -> RtpMap | None:
    payload, _, encoding = value.partition(" ")
    parts = encoding.strip().split("/")
    # int() alone would take non-ASCII digits and thousands of them
    if len(parts) < 2 or not is_small_number(payload) or not is_small_number(parts[1]):
        return None
    channels_text = parts[2] if len(parts) > 2 else ""
    if channels_text and not is_small_number(channels_text):
        return None
    channels = int(channels_text) if channels_text else None
    return RtpMap(int(payload), parts[0], int(parts[1]), channels)
