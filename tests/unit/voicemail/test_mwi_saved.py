"""Message-waiting subscriptions written down and read back across a restart: the
dialog comes back as it was (with room in its CSeq for NOTIFYs sent after the last
write), expired and damaged entries are skipped, a damaged file reads as empty."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kilopbx.apps.voicemail.mwi_saved import (
    CSEQ_MARGIN,
    SavedSubscription,
    from_entry,
    read_entries,
    to_entry,
    write_entries,
)
from kilopbx.sip.address import parse_name_addr
from kilopbx.sip.dialog import Dialog
from kilopbx.sip.transport import Destination


def dialog(call_id: str = "abc@phone") -> Dialog:
    return Dialog(
        call_id=call_id,
        local_tag="pbx1",
        remote_tag="phone1",
        local_address=parse_name_addr("<sip:2002@127.0.0.1>"),
        remote_address=parse_name_addr('"Desk" <sip:2002@127.0.0.1>'),
        remote_target="sip:2002@127.0.0.1:5071",
        route_set=["<sip:proxy.example;lr>"],
        local_cseq=7,
        remote_cseq=3,
        local_contact="<sip:2002@127.0.0.1:5060>",
        is_uac=False,
        flow=Destination("udp", "127.0.0.1", 5071),
    )


def test_a_subscription_comes_back_with_its_dialog(tmp_path: Path) -> None:
    path = tmp_path / "mwi.json"
    write_entries(path, [SavedSubscription("2002", 2000.0, dialog())])
    [back] = read_entries(path, now=1000.0)
    assert back.mailbox == "2002" and back.expires_at == 2000.0
    got, want = back.dialog, dialog()
    assert got.id == want.id
    assert str(got.remote_address) == str(want.remote_address)
    assert (got.remote_target, got.route_set, got.flow) == (
        want.remote_target, want.route_set, want.flow
    )  # fmt: skip
    assert got.local_cseq == 7 + CSEQ_MARGIN and got.remote_cseq == 3
    assert not got.is_uac and got.local_contact == want.local_contact
    assert not list(tmp_path.glob("*.tmp"))  # replaced in one rename


def test_expired_and_damaged_entries_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "mwi.json"
    good = to_entry(SavedSubscription("2002", 2000.0, dialog("good")))
    expired = to_entry(SavedSubscription("2002", 900.0, dialog("old")))
    hostile = [
        "not an object",
        {**good, "mailbox": "../etc"},
        {**good, "mailbox": "1" * 17},
        {**good, "call_id": ""},
        {**good, "call_id": "x" * 5000},
        {**good, "local_address": "no brackets <"},
        {**good, "flow": ["udp", "127.0.0.1"]},
        {**good, "route_set": "not a list"},
        {**good, "remote_cseq": "3"},
        {key: value for key, value in good.items() if key != "expires_at"},
    ]
    path.write_text(json.dumps([expired, *hostile, good]))
    assert [s.dialog.call_id for s in read_entries(path, now=1000.0)] == ["good"]


def test_a_missing_or_damaged_file_reads_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "mwi.json"
    assert read_entries(path, now=0.0) == []
    for text in ("{not json", '{"a": 1}', "null", "[1, 2"):
        path.write_text(text)
        assert read_entries(path, now=0.0) == []
    with pytest.raises(ValueError):
        from_entry(None)
