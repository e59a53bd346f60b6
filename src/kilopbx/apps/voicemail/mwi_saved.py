"""Message-waiting subscriptions kept across a restart: `<data>/voicemail/mwi.json`.

A phone subscribes for an hour and only then refreshes; a PBX restarted meanwhile
would otherwise forget it, answer its refresh 481 and leave its lamp stale until
then. So each live subscription is written down with its dialog (Call-ID, tags,
addresses, remote target, route set, CSeq numbers, our Contact and the flow the phone
talks from) and when it runs out, in wall-clock time since the monotonic clock does
not survive a restart. The file is replaced in one rename, so a crash leaves the old
list or the new one. Reading is forgiving: a damaged file or entry is skipped (the
phone subscribes again at its next refresh), never a reason not to start.

`to_entry` and `from_entry` are pure; `write_entries` and `read_entries` do the file.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kilopbx.sip.address import parse_name_addr
from kilopbx.sip.dialog import Dialog, DialogState
from kilopbx.sip.errors import HeaderValueError
from kilopbx.sip.transport import Destination

log = logging.getLogger(__name__)

FILE_NAME = "mwi.json"
MAX_ENTRIES = 10_000  # as many as may be live (`mwi.MAX_SUBSCRIPTIONS`)
MAX_BYTES = 16 * 1024 * 1024
CSEQ_MARGIN = 100  # NOTIFYs a crash may have sent after the last write


@dataclass(frozen=True)
class SavedSubscription:
    mailbox: str
    expires_at: float  # epoch seconds
    dialog: Dialog


def to_entry(saved: SavedSubscription) -> dict[str, Any]:
    dialog = saved.dialog
    flow = dialog.flow
    return {
        "mailbox": saved.mailbox,
        "expires_at": saved.expires_at,
        "call_id": dialog.call_id,
        "local_tag": dialog.local_tag,
        "remote_tag": dialog.remote_tag,
        "local_address": str(dialog.local_address),
        "remote_address": str(dialog.remote_address),
        "remote_target": dialog.remote_target,
        "route_set": list(dialog.route_set),
        "local_cseq": dialog.local_cseq,
        "remote_cseq": dialog.remote_cseq,
        "local_contact": dialog.local_contact,
        "flow": None if flow is None else [flow.transport, flow.host, flow.port],
    }


def from_entry(entry: Any) -> SavedSubscription:
    """The subscription an entry describes; ValueError when it is not a valid one."""
    if not isinstance(entry, dict):
        raise ValueError("not an object")
    try:
        mailbox = _text(entry, "mailbox")
        if not mailbox.isascii() or not mailbox.isdigit() or len(mailbox) > 16:
            raise ValueError("bad mailbox")
        flow = entry.get("flow")
        if flow is not None:
            transport, host, port = flow
            flow = Destination(str(transport), str(host), int(port))
        route_set = entry.get("route_set") or []
        if not isinstance(route_set, list) or not all(isinstance(r, str) for r in route_set):
            raise ValueError("bad route set")
        local_cseq = entry.get("local_cseq")
        dialog = Dialog(
            call_id=_text(entry, "call_id"),
            local_tag=_text(entry, "local_tag"),
            remote_tag=_text(entry, "remote_tag"),
            local_address=parse_name_addr(_text(entry, "local_address")),
            remote_address=parse_name_addr(_text(entry, "remote_address")),
            remote_target=_text(entry, "remote_target"),
            route_set=route_set,
            local_cseq=None if local_cseq is None else int(local_cseq) + CSEQ_MARGIN,
            remote_cseq=_number(entry.get("remote_cseq")),
            state=DialogState.CONFIRMED,
            local_contact=_text(entry, "local_contact"),
            is_uac=False,
            flow=flow,
        )
        return SavedSubscription(mailbox, float(entry["expires_at"]), dialog)
    except (KeyError, TypeError, HeaderValueError) as exc:
        raise ValueError(str(exc)) from exc


def write_entries(path: Path, saved: list[SavedSubscription]) -> None:
    """Replace the file with these subscriptions, in one rename."""
    data = json.dumps([to_entry(s) for s in saved[:MAX_ENTRIES]]).encode()
    temporary = path.with_suffix(".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def read_entries(path: Path, now: float) -> list[SavedSubscription]:
    """The subscriptions in the file that have not run out by ``now``."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ValueError("too large")
        entries = json.loads(path.read_bytes())
        if not isinstance(entries, list):
            raise ValueError("not a list")
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        log.warning("message-waiting subscriptions in %s not read: %s", path, exc)
        return []
    found = []
    for entry in entries[:MAX_ENTRIES]:
        try:
            saved = from_entry(entry)
        except ValueError as exc:
            log.info("a saved message-waiting subscription is skipped: %s", exc)
            continue
        if saved.expires_at > now:
            found.append(saved)
    return found


def _text(entry: dict[str, Any], name: str) -> str:
    value = entry[name]
    if not isinstance(value, str) or not value or len(value) > 1024:
        raise ValueError(f"bad {name}")
    return value


def _number(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("bad CSeq")
    return value
