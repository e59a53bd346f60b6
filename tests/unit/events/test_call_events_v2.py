"""Call events in the 2.0.0 format against the bodies of 80-events §4 (field by field,
key order included)."""

from __future__ import annotations

import json
from typing import Any

from kilopbx.events.call_events import CallFailed, CallStatus, Forward, NewCdr
from kilopbx.events.call_model import (
    CallDisposition,
    FailureReason,
)
from kilopbx.events.render import EventRenderer
from kilopbx.events.types import Event
from kilopbx.events.versions import EventFormat
from tests.unit.events.spec_calls import (
    ANSWER,
    ANSWERED,
    INBOUND_CALL,
    SN,
    ext,
    failed_outbound,
    forwarded_caller,
    inbound,
    record,
)

V2 = EventFormat.V2


def v2(event: Event) -> list[Any]:
    """The texts as parsed JSON, with pairs so key order and repeats are compared too."""
    texts = EventRenderer(SN).prepare(event).texts(V2)
    return [json.loads(text, object_pairs_hook=list) for text in texts]


def pairs(body: dict[str, Any]) -> Any:
    """A spec example body in the same shape as `v2()` gives."""
    return json.loads(json.dumps(body), object_pairs_hook=list)


def test_call_status_snapshot_matches_the_queue_example() -> None:
    event = CallStatus(
        INBOUND_CALL, (inbound(ANSWERED, call_path="6702"), ext("2102", ANSWER, "6702"))
    )
    expected = {
        "event": "CallStatus",
        "callid": "1718869200.731",
        "members": [
            {
                "inbound": {
                    "from": "0612345678",
                    "to": "0581234500",
                    "trunkname": "carrier-a",
                    "channelid": "PJSIP/trunk-carrier-a-endpoint-0000a140",
                    "memberstatus": "ANSWERED",
                    "callpath": "6702",
                }
            },
            {
                "ext": {
                    "number": "2102",
                    "channelid": "PJSIP/2102-0000a141",
                    "memberstatus": "ANSWER",
                    "callpath": "6702",
                }
            },
        ],
        "sn": "372816450923",
    }
    assert v2(event) == [pairs(expected)]


def test_call_status_of_a_direct_call_has_no_callpath() -> None:
    body = v2(CallStatus("1718870100.760", (ext("2101", ANSWERED), ext("2102", ANSWER))))[0]
    assert dict(body)["members"] == [
        [
            (
                "ext",
                [
                    ("number", "2101"),
                    ("channelid", "PJSIP/2101-0000a13e"),
                    ("memberstatus", "ANSWERED"),
                ],
            )
        ],
        [
            (
                "ext",
                [
                    ("number", "2102"),
                    ("channelid", "PJSIP/2102-0000a141"),
                    ("memberstatus", "ANSWER"),
                ],
            )
        ],
    ]


def test_new_cdr_matches_the_inbound_example(utc: None) -> None:
    expected = {
        "event": "NewCdr",
        "callid": "1718869200.731",
        "timestart": "2024-06-20 09:40:00",
        "callfrom": "0612345678",
        "callto": "2102",
        "callduraction": "95",
        "talkduraction": "81",
        "srctrunkname": "carrier-a",
        "dsttrcunkname": "",
        "pincode": "",
        "status": "ANSWERED",
        "type": "Inbound",
        "recording": "20240620094014-1718869200.731-0612345678-2102-Inbound.wav",
        "didnumber": "0581234500",
        "agentringtime": "0",
        "sn": "372816450923",
    }
    assert v2(NewCdr(record())) == [pairs(expected)]


def test_new_cdr_unanswered_has_zero_talk_and_queue_wait(utc: None) -> None:
    missed = record(
        answered_at=None,
        callee="6702",
        disposition=CallDisposition.NO_ANSWER,
        queue_wait_seconds=12,
    )
    body = dict(v2(NewCdr(missed))[0])
    assert (body["talkduraction"], body["status"], body["agentringtime"]) == (
        "0",
        "NO ANSWER",
        "12",
    )


def test_call_failed_puts_callid_before_event() -> None:
    event = CallFailed("1718872110.845", FailureReason.BUSY_HERE, ext("2101"))
    expected = [
        ("callid", "1718872110.845"),
        ("event", "CallFailed"),
        ("reason", "486 Busy here"),
        ("members", [[("ext", [("number", "2101"), ("channelid", "PJSIP/2101-0000a13e")])]]),
        ("sn", "372816450923"),
    ]
    assert v2(event) == [expected]


def test_call_failed_lists_the_failed_outbound_leg_after_the_caller() -> None:
    leg = failed_outbound()
    event = CallFailed("1718872110.845", FailureReason.CONGESTION, ext("2101"), leg)
    members = dict(v2(event)[0])["members"]
    assert [member[0][0] for member in members] == ["ext", "outbound"]
    assert dict(members[1][0][1]) == {
        "from": "2101",
        "to": "0634455667",
        "trunkname": "carrier-a",
        "channelid": "PJSIP/trunk-carrier-a-endpoint-0000a1f1",
    }


def test_failure_reasons_are_the_spec_strings() -> None:
    assert [reason.value for reason in FailureReason] == [
        "NO Outbound Restriction",
        "Circuit/channel congestion",
        "DND",
        "Line Unreachable",
        "User Busy",
        "410 Gone",
        "404 NOT found",
        "408 Request Time",
        "480 Temporatily Unavailable",
        "484 Address incomplete",
        "486 Busy here",
        "603 Declined",
    ]
    assert FailureReason.from_sip_status(503) is FailureReason.CONGESTION
    assert FailureReason.from_sip_status(486) is FailureReason.BUSY_HERE
    assert FailureReason.from_sip_status(500) is FailureReason.LINE_UNREACHABLE


def test_forward_matches_the_example() -> None:
    caller = forwarded_caller()
    expected = {
        "event": "Forward",
        "callid": "1718871005.802",
        "members": [
            {
                "inbound": {
                    "from": "0698765432",
                    "to": "2105",
                    "trunkname": "carrier-a",
                    "channelid": "PJSIP/trunk-carrier-a-endpoint-0000a1c2",
                }
            }
        ],
        "sn": "372816450923",
    }
    assert v2(Forward("1718871005.802", caller, forwarding_extension="2105")) == [pairs(expected)]


def test_call_events_follow_the_status_monitor_filter() -> None:
    def only(number: str) -> Any:
        return lambda value: value == number

    status = CallStatus(INBOUND_CALL, (inbound(ANSWERED), ext("2102", ANSWER)))
    assert status.is_monitored(only("2102"), only("none"))
    assert status.is_monitored(only("none"), only("carrier-a"))
    assert not status.is_monitored(only("2101"), only("other"))
    forward = Forward("1", ext("2101"), forwarding_extension="2105")
    assert forward.is_monitored(only("2105"), only("none"))
    assert not forward.is_monitored(only("2102"), only("none"))
    assert NewCdr(record()).is_monitored(only("none"), only("none"))
