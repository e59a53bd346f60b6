"""Which route handles a call (31-routes.md, "Inbound matching" and "Outbound matching
and number rewriting"). Pure functions over plain rules, so the call engine and the
tests can use them without a database. The answers are the engine's own types
(`kilopbx.engine.routing`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kilopbx.apps.routes.patterns import DialPattern
from kilopbx.apps.timeconditions.schedule import Schedule
from kilopbx.engine.routing import Destination, OutboundChoice


@dataclass(frozen=True)
class InboundRule:
    name: str
    trunks: frozenset[str]
    did: DialPattern
    caller: DialPattern
    dest_type: str
    dest: str
    hours: Schedule | None = None  # None: no business hours, always the main destination
    hours_moment: dt.datetime | None = None  # "now" in the zone of `hours`
    off_hours_dest_type: str = ""
    off_hours_dest: str = ""
    hours_zone: str = ""  # the zone of `hours` ("" = the PBX's), for `moment`


def choose_inbound(
    rules: Iterable[InboundRule],
    trunk: str,
    did: str,
    caller: str,
    moment: Callable[[InboundRule], dt.datetime | None] | None = None,
) -> Destination | None:
    """The first rule (in evaluation order) for the trunk whose patterns match; None means
    no route (the call is rejected with 404). ``moment(rule)``: "now" in the zone of the
    rule's hours, when it is not in the rule (``hours_moment``)."""
    for rule in rules:
        if trunk not in rule.trunks:
            continue
        if rule.did.text and not rule.did.matches(did):
            continue
        if rule.caller.text and not rule.caller.matches(caller):
            continue
        dest_type, dest = rule.dest_type, rule.dest
        now = rule.hours_moment if moment is None or rule.hours is None else moment(rule)
        in_hours = rule.hours is None or (now is not None and rule.hours.is_open(now))
        if not in_hours:
            dest_type, dest = rule.off_hours_dest_type, rule.off_hours_dest
        if dest_type == "extrange":
            extension = extension_in_range(dest, did)
            return None if extension is None else Destination(rule.name, "extension", extension)
        return Destination(rule.name, dest_type, dest)
    return None


def extension_in_range(extension_range: str, did: str) -> str | None:
    """The extension an `extrange` destination gives a DID: its last N digits, where N is
    the extension length, when that number lies in the range."""
    first, _, last = extension_range.partition("-")
    tail = did[-len(first) :]
    # a DID arrives from SIP: '²'.isdigit() is true but int('²') raises
    if len(tail) != len(first) or not (tail.isascii() and tail.isdigit()):
        return None
    if not int(first) <= int(tail) <= int(last):
        return None
    return tail


@dataclass(frozen=True)
class OutboundRule:
    name: str
    prefix: DialPattern
    strip: int | None
    prepend: str
    trunks: tuple[str, ...]  # failover order
    all_extensions: bool
    extensions: frozenset[str]
    groups: frozenset[int]  # extension group ids
    caller_pattern: DialPattern | None = None  # KiloPBX option: callers it applies to
    caller_id_number: str = ""
    caller_id_name: str = ""
    pin: str = ""
    record: bool = False


def choose_outbound(
    rules: Iterable[OutboundRule], caller: str, caller_groups: frozenset[int], dialled: str
) -> OutboundChoice | None:
    """The first rule whose prefix matches the whole dialled string and that permits the
    caller; None when no rule matches, and a choice that is not ``allowed`` when rules
    match but none permits the caller (the call is refused with 403)."""
    matched = ""
    for rule in rules:
        if not rule.prefix.matches(dialled):
            continue
        matched = matched or rule.name
        permitted = rule.all_extensions or caller in rule.extensions or rule.groups & caller_groups
        if not permitted:
            continue
        pattern = rule.caller_pattern
        if pattern is not None and pattern.text and not pattern.matches(caller):
            continue
        number = rule.prepend + dialled[rule.strip or 0 :]
        return OutboundChoice(
            rule.name,
            number,
            rule.trunks,
            caller_id_number=rule.caller_id_number,
            caller_id_name=rule.caller_id_name,
            pin=rule.pin,
            record=rule.record,
        )
    return OutboundChoice(matched, "", (), allowed=False) if matched else None
