"""The Replaces header (RFC 3891), sans IO: reading it from an INVITE or from the
``?Replaces=`` header of a Refer-To URI (an attended transfer's REFER, RFC 3515 §2.1),
and writing it.

    Replaces = "Replaces" HCOLON callid *(SEMI replaces-param)
    replaces-param = to-tag / from-tag / early-flag / generic-param

Exactly one ``to-tag`` and one ``from-tag`` are required (§6). The tags are those of
the dialog *at the recipient*: ``to-tag`` is its local tag, ``from-tag`` its remote
one (§3), which ``dialog_id`` turns into a dialog identity. A request carrying more
than one Replaces is malformed (§3: 400).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from kilopbx.sip.dialog import DialogId
from kilopbx.sip.errors import HeaderValueError
from kilopbx.sip.grammar import parse_params

MAX_LENGTH = 1024  # a Replaces longer than this names no dialog of ours
# RFC 3261 §25.1: callid = word [ "@" word ]
_WORD = r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+"
_CALL_ID = re.compile(rf"{_WORD}(?:@{_WORD})?")
_TAG = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")  # token


@dataclass(frozen=True, slots=True)
class Replaces:
    call_id: str
    to_tag: str
    from_tag: str
    early_only: bool = False

    def dialog_id(self) -> DialogId:
        """The replaced dialog's identity at the recipient (its local tag first)."""
        return DialogId(self.call_id, self.to_tag, self.from_tag)

    def __str__(self) -> str:
        early = ";early-only" if self.early_only else ""
        return f"{self.call_id};to-tag={self.to_tag};from-tag={self.from_tag}{early}"


def parse_replaces(value: str) -> Replaces:
    """One Replaces value; HeaderValueError when it does not follow §6."""
    if len(value) > MAX_LENGTH:
        raise HeaderValueError("Replaces too long")
    text = value.strip(" \t")
    call_id, semicolon, rest = text.partition(";")
    call_id = call_id.strip(" \t")
    if not _CALL_ID.fullmatch(call_id):
        raise HeaderValueError(f"bad Call-ID in Replaces {call_id[:40]!r}")
    if not semicolon:
        raise HeaderValueError("Replaces without tags")
    if _has_duplicates(rest):
        raise HeaderValueError("a Replaces parameter given twice")
    params = parse_params(";" + rest)
    to_tag, from_tag = params.get("to-tag"), params.get("from-tag")
    if to_tag is None or from_tag is None:
        raise HeaderValueError("Replaces needs a to-tag and a from-tag")
    if not _TAG.fullmatch(to_tag) or not _TAG.fullmatch(from_tag):
        raise HeaderValueError("bad tag in Replaces")
    if "early-only" in params and params["early-only"] is not None:
        raise HeaderValueError("early-only takes no value")
    return Replaces(call_id, to_tag, from_tag, "early-only" in params)


def request_replaces(values: list[str]) -> Replaces | None:
    """The Replaces of a request's header values: None without one; HeaderValueError
    when there are several or it is malformed (§3: 400)."""
    if not values:
        return None
    if len(values) != 1 or "," in values[0]:
        raise HeaderValueError("more than one Replaces")
    return parse_replaces(values[0])


def uri_replaces(headers: dict[str, str]) -> Replaces | None:
    """The Replaces among a URI's ``?headers`` (escaped, as in a Refer-To), or None;
    HeaderValueError when malformed or given twice."""
    found = [value for name, value in headers.items() if unquote(name).lower() == "replaces"]
    if not found:
        return None
    if len(found) != 1:
        raise HeaderValueError("more than one Replaces")
    return parse_replaces(unquote(found[0]))


def uri_header(replaces: Replaces) -> str:
    """``Replaces=...`` escaped for a URI's headers (RFC 3261 §19.1.1)."""
    return "Replaces=" + quote(str(replaces), safe="-_.!~*'()")


def _has_duplicates(text: str) -> bool:
    names = [item.partition("=")[0].strip(" \t").lower() for item in text.split(";")]
    return len(names) != len(set(names))
