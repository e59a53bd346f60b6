"""DTMF in SIP INFO requests (in-dialog), read and written, sans IO.

Two bodies are in use by phones:

- ``application/dtmf-relay``: lines ``Signal=5`` and ``Duration=160`` (milliseconds),
  the form most phones and PBXs send;
- ``application/dtmf``: the bare key, sometimes with a duration line.

`read_info_digit` accepts either (the content type decides) and returns the key, or
None for anything else: another content type, an empty, oversized or malformed body,
or a key that is no DTMF digit. Flash (``Signal=16``) and other events are ignored.
`info_body` writes the ``application/dtmf-relay`` form we send to phones that did not
negotiate telephone-event.
"""

from __future__ import annotations

from dataclasses import dataclass

DTMF_RELAY = "application/dtmf-relay"
DTMF = "application/dtmf"
MAX_BODY = 256
DIGITS = "0123456789*#ABCD"
DEFAULT_DURATION_MS = 100
MAX_DURATION_MS = 5000


@dataclass(frozen=True)
class InfoDigit:
    digit: str
    duration_ms: int


def read_info_digit(content_type: str | None, body: bytes) -> InfoDigit | None:
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind not in (DTMF_RELAY, DTMF) or not body or len(body) > MAX_BODY:
        return None
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        return None
    fields: dict[str, str] = {}
    lines = [line.strip() for line in text.replace("\r", "\n").split("\n") if line.strip()]
    if kind == DTMF and lines and "=" not in lines[0]:
        if len(lines[0]) != 1:
            return None  # the bare form is one key
        fields["signal"] = lines[0]
        lines = lines[1:]
    for line in lines:
        name, sep, value = line.partition("=")
        if sep:
            fields[name.strip().lower()] = value.strip()
    digit = _digit(fields.get("signal", ""))
    if digit is None:
        return None
    return InfoDigit(digit, _duration(fields.get("duration", "")))


def _digit(signal: str) -> str | None:
    if len(signal) == 1 and signal.upper() in DIGITS:
        return signal.upper()
    if signal.isdigit() and len(signal) <= 2 and 10 <= int(signal) <= 15:
        return DIGITS[int(signal)]  # the event numbers of * # A-D, as some phones send them
    return None


def _duration(text: str) -> int:
    if not text.isdigit() or len(text) > 6:
        return DEFAULT_DURATION_MS
    return max(40, min(MAX_DURATION_MS, int(text)))


def info_body(digit: str, duration_ms: int) -> bytes:
    """The ``application/dtmf-relay`` body of one key."""
    if len(digit) != 1 or digit.upper() not in DIGITS:
        raise ValueError(f"not a DTMF digit: {digit!r}")
    return f"Signal={digit.upper()}\r\nDuration={duration_ms}\r\n".encode()
