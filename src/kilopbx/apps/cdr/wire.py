"""CDR wire facts: error numbers, the request values of `cdr/get_random`, and the CSV
file `cdr/download` returns (60-voicemail-recording-cdr.md). The file's column is
`dsttrunkname`; the `NewCdr` event's key is `dsttrcunkname`: both are spec spellings."""

from __future__ import annotations

import csv
import io
import ipaddress
import re
import time
from collections.abc import Iterable

from kilopbx.apps.ring_groups.values import split_list
from kilopbx.core.errors import MISSING_PARAMETER, DomainError
from kilopbx.events.call_model import CallRecord

# reasons; the endpoints map them to the spec's errnos
BAD_TIME = "cdr.bad_time"
BAD_RANDOM = "cdr.bad_random"
NO_RECORDS = "cdr.no_records"
IP_NOT_ALLOWED = "cdr.ip_not_allowed"

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
TIME_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", re.ASCII)
MAX_WINDOW_SECONDS = 366 * 24 * 3600
MAX_NUMBERS = 1000
MAX_NUMBER_LENGTH = 64

CSV_HEADER = (
    "callid",
    "timestart",
    "callfrom",
    "callto",
    "callduraction",
    "talkduraction",
    "srctrunkname",
    "dsttrunkname",
    "status",
    "type",
    "pincode",
    "recording",
    "didnumber",
    "sn",
)


def parse_local_time(text: str) -> float:
    """`YYYY-MM-DD HH:MM:SS` in the PBX's local time, exactly; else BAD_TIME."""
    if not TIME_SHAPE.fullmatch(text):
        raise DomainError(BAD_TIME, detail="time must be YYYY-MM-DD HH:MM:SS")
    try:
        parsed = time.strptime(text, TIME_FORMAT)
    except ValueError as exc:
        raise DomainError(BAD_TIME, detail="time must be YYYY-MM-DD HH:MM:SS") from exc
    return time.mktime(parsed)


def parse_window(start_text: str, end_text: str) -> tuple[float, float]:
    start, end = parse_local_time(start_text), parse_local_time(end_text)
    if end < start:
        raise DomainError(BAD_TIME, detail="endtime is earlier than starttime")
    if end - start > MAX_WINDOW_SECONDS:
        raise DomainError(BAD_TIME, detail="the window spans more than 366 days")
    return start, end


def parse_numbers(selector: str) -> list[str] | None:
    """`all` → None; else the listed numbers (blanks and empty items ignored)."""
    if selector.strip().lower() == "all":
        return None
    numbers = split_list(selector)
    if not numbers:
        raise DomainError(MISSING_PARAMETER)
    if len(numbers) > MAX_NUMBERS or any(len(n) > MAX_NUMBER_LENGTH for n in numbers):
        raise DomainError(MISSING_PARAMETER, detail="too many or too long numbers")
    return numbers


def parse_allowed_ip(text: str | None) -> str | None:
    """One IPv4 address that may download besides the application; blank → none."""
    if text is None or not text.strip():
        return None
    try:
        return str(ipaddress.IPv4Address(text.strip()))
    except ValueError as exc:
        raise DomainError(IP_NOT_ALLOWED, detail="allowedip must be one IPv4 address") from exc


def csv_header() -> bytes:
    return (",".join(CSV_HEADER) + "\r\n").encode("utf-8")


def csv_rows(records: Iterable[CallRecord], serial: str) -> bytes:
    """Lines of the CDR file: UTF-8 without BOM, CRLF line ends, RFC 4180 quoting only
    where a value needs it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    for r in records:
        writer.writerow(
            (
                r.call_id,
                r.start_text,
                r.caller,
                r.callee,
                r.call_seconds,
                r.talk_seconds,
                r.source_trunk,
                r.destination_trunk,
                r.disposition.value,
                r.call_type.value,
                r.pin_code,
                r.recording,
                r.did_number,
                serial,
            )
        )
    return out.getvalue().encode("utf-8")
