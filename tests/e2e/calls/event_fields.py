"""What a call's events must look like on the wire, in every event format, for the e2e
call flows (80-events.md, 81-events-legacy.md).

One ``Receivers`` logs in three event sessions: 2.0.0, plain legacy (no ``version``:
parties as repeated top-level keys) and well-formed legacy (``version`` 1.0.2: parties
in a ``call`` array). ``Receivers.check`` takes one flow's expected 2.0.0 events and
legacy reports, as short summaries, and checks every body of the three sessions field
by field: key names, key order, string values, ``sn`` last, one call id throughout.
The two legacy formats must give the same reports (same actions, parties and order);
the reports that carry no party container (``CallFailed``, ``NewCdr``) must be
byte-identical in both.

The bodies are parsed keeping their key order (and, in the plain legacy format,
repeated keys), so that what is checked is what went over the wire.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from tests.harness import EventReceiver, PbxProcess

Pairs = list[tuple[str, Any]]
Summary = list[tuple[Any, ...]]
CHANNEL = re.compile(r"PJSIP/(\d+)-[0-9a-f]{8}")
CDR_KEYS = [
    "event", "callid", "timestart", "callfrom", "callto", "callduraction", "talkduraction",
    "srctrunkname", "dsttrcunkname", "pincode", "status", "type", "recording", "didnumber",
    "agentringtime", "sn",
]  # fmt: skip
LEGACY_CDR_KEYS = [
    "action", "callid", "timestart", "callfrom", "callto", "callduraction", "talkduraction",
    "status", "type", "sn",
]  # fmt: skip
CALL_EVENTS = {"CallStatus", "CallFailed", "Forward", "NewCdr", "Tranfer"}
LEGACY_CALL = {"ALERT", "RING", "ANSWER", "ANSWERED", "BYE", "CallFailed", "NewCdr", "Tranfer"}
# legacy reports whose parties stay top-level keys in both legacy formats (81 §1.1)
SAME_IN_BOTH = {"CallFailed", "NewCdr"}
FLAT, WELL_FORMED = "plain", "1.0.2"

# the events of a call that 2002 answers (2.0.0), and the legacy reports they give
ANSWERED_V2: Summary = [
    ("CallStatus", ("2001", "ALERT"), ("2002", "RING")),
    ("CallStatus", ("2001", "ANSWERED"), ("2002", "ANSWER")),
]
ANSWERED_LEGACY: Summary = [
    ("ALERT", "2001"),
    ("RING", "2002", "2001"),
    ("ANSWERED", "2001", "2002"),
    ("ANSWER", "2002", "2001"),
]


class Receivers:
    """One event receiver per format, logged in once for a module's flows."""

    def __init__(self, pbx: PbxProcess) -> None:
        self.pbx = pbx
        self.v2 = EventReceiver().start()
        self.legacy = EventReceiver().start()
        self.legacy2 = EventReceiver().start()
        self.token = pbx.login(port=self.v2.port)
        pbx.login_legacy(port=self.legacy.port)
        pbx.login_legacy(port=self.legacy2.port, version="1.0.2")
        self.sn = sn_of(pbx, self.token)
        self.calls: list[str] = []  # every call id the module's flows made

    def mark(self) -> tuple[int, int, int]:
        return len(self.v2.bodies), len(self.legacy.bodies), len(self.legacy2.bodies)

    def flow(self, mark: tuple[int, int, int]) -> tuple[list[Pairs], list[Pairs], list[Pairs]]:
        """The call events of one call since ``mark`` in each format, once its NewCdr
        arrived in all of them (the flows run one at a time)."""
        receivers = (self.v2, self.legacy, self.legacy2)

        def done(receiver: EventReceiver, start: int) -> bool:
            return any(e.get("event", e.get("action")) == "NewCdr" for e in receiver.events[start:])

        for receiver, start in zip(receivers, mark, strict=True):
            receiver.wait_for(lambda _e, r=receiver, s=start: done(r, s))
        time.sleep(0.2)  # nothing more may follow the NewCdr: give a stray one the chance
        v2, legacy, legacy2 = (
            [ordered(b) for b in r.bodies[start:]] for r, start in zip(receivers, mark, strict=True)
        )
        v2 = [e for e in v2 if value(e, "event") in CALL_EVENTS]
        legacy = [e for e in legacy if value(e, "action") in LEGACY_CALL]
        legacy2 = [e for e in legacy2 if value(e, "action") in LEGACY_CALL]
        ids = {value(e, "callid") for e in (*v2, *legacy, *legacy2)}
        assert len(ids) == 1, ids  # one call, one id in every event of every format
        self.calls.append(ids.pop())
        return v2, legacy, legacy2

    def check(self, mark: tuple[int, int, int], v2: Summary, legacy: Summary) -> str:
        """The flow since ``mark`` gave exactly ``v2`` (2.0.0) and ``legacy`` (in both
        legacy formats); returns the call id."""
        got_v2, got_flat, got_well_formed = self.flow(mark)
        assert v2_summary(got_v2, self.sn) == v2
        assert legacy_summary(got_flat, self.sn, FLAT) == legacy
        assert legacy_summary(got_well_formed, self.sn, WELL_FORMED) == legacy
        for flat, well_formed in zip(got_flat, got_well_formed, strict=True):
            if value(flat, "action") in SAME_IN_BOTH:
                assert flat == well_formed
        return self.calls[-1]

    def stop(self) -> None:
        self.v2.stop()
        self.legacy.stop()
        self.legacy2.stop()


def ordered(body: bytes) -> Pairs:
    pairs: Pairs = json.loads(body, object_pairs_hook=list)
    return pairs


def value(pairs: Pairs, key: str) -> Any:
    found = [v for k, v in pairs if k == key]
    return found[0] if found else None


def keys(pairs: Pairs) -> list[str]:
    return [k for k, _ in pairs]


def sn_of(pbx: PbxProcess, token: str) -> str:
    info = pbx.api("deviceinfo/query", {}, token=token)
    return str(info.get("sn") or info.get("deviceinfo", {}).get("sn"))


def v2_summary(events: list[Pairs], sn: str) -> Summary:
    """Each 2.0.0 event checked for its exact keys, order and types, then summed up as
    (event, ...) with the members as (number, status)."""
    channels: dict[str, str] = {}
    out: Summary = []
    for event in events:
        name = value(event, "event")
        assert value(event, "sn") == sn and keys(event)[-1] == "sn"
        assert re.fullmatch(r"\d+\.\d+", value(event, "callid"))
        if name == "NewCdr":
            out.append(_v2_cdr(event))
            continue
        expected = ["callid", "event"] if name == "CallFailed" else ["event", "callid"]
        assert keys(event)[:2] == expected
        assert keys(event)[-2:] == ["members", "sn"]
        members = []
        for member in value(event, "members"):
            ((kind, fields),) = member
            assert kind == "ext"
            wanted = ["number", "channelid"] + (["memberstatus"] if name == "CallStatus" else [])
            assert keys(fields) == wanted, fields
            number, channel = value(fields, "number"), value(fields, "channelid")
            match = CHANNEL.fullmatch(channel)
            assert match is not None and match.group(1) == number, channel
            assert channels.setdefault(channel, number) == number
            members.append(
                (number, value(fields, "memberstatus")) if name == "CallStatus" else number
            )
        if name == "CallFailed":
            assert keys(event) == ["callid", "event", "reason", "members", "sn"]
            out.append((name, value(event, "reason"), *members))
        else:
            assert len(keys(event)) == 4
            out.append((name, *members))
    return out


def _v2_cdr(event: Pairs) -> tuple[Any, ...]:
    assert keys(event) == CDR_KEYS
    assert all(isinstance(v, str) for _, v in event)
    for empty in ("srctrunkname", "dsttrcunkname", "pincode", "recording", "didnumber"):
        assert value(event, empty) == ""
    assert value(event, "agentringtime") == "0"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", value(event, "timestart"))
    talk, total = int(value(event, "talkduraction")), int(value(event, "callduraction"))
    assert 0 <= talk <= total < 60
    assert talk == 0 or value(event, "status") == "ANSWERED"
    return (
        "NewCdr",
        value(event, "callfrom"),
        value(event, "callto"),
        value(event, "status"),
        value(event, "type"),
    )


def legacy_summary(events: list[Pairs], sn: str, form: str) -> Summary:
    """Each legacy report checked the same way: (action, ...) with each party as its
    extension number, in order. ``form`` FLAT: the parties are repeated top-level
    ``ext`` keys; WELL_FORMED: one ``call`` array of one-key objects at that place,
    except in ``CallFailed`` (top-level keys in both formats)."""
    out: Summary = []
    for event in events:
        action = value(event, "action")
        assert value(event, "sn") == sn and keys(event)[-1] == "sn"
        assert all(isinstance(v, str) for k, v in event if k not in ("ext", "call"))
        if action == "NewCdr":
            assert keys(event) == LEGACY_CDR_KEYS  # empty keys are left out
            out.append((action, value(event, "callfrom"), value(event, "callto"),
                        value(event, "status"), value(event, "type")))  # fmt: skip
            continue
        head = ["action", "reason", "callid"] if action == "CallFailed" else ["action", "callid"]
        assert keys(event)[: len(head)] == head
        parties: Pairs = event[len(head) : -1]
        if form == WELL_FORMED and action not in SAME_IN_BOTH:
            assert keys(parties) == ["call"], event
            array = value(parties, "call")
            assert isinstance(array, list) and array, event
            parties = []
            for element in array:
                assert isinstance(element, list) and len(element) == 1, element
                parties.extend(element)
        numbers = []
        for kind, fields in parties:
            assert kind == "ext" and keys(fields) == ["extid"], parties
            assert isinstance(value(fields, "extid"), str)
            numbers.append(value(fields, "extid"))
        extra = (value(event, "reason"),) if action == "CallFailed" else ()
        out.append((action, *extra, *numbers))
    return out
