"""The `DTMF` event against 80-events §4.9 and 81-events-legacy §4.13 (key order
included)."""

from __future__ import annotations

import json

from kilopbx.events.call_events import Dtmf
from kilopbx.events.call_model import CallMember, MemberKind, MemberStatus
from kilopbx.events.render import EventRenderer
from kilopbx.events.versions import EventFormat
from tests.unit.events.spec_calls import SN, ext

CALL = "1718873300.912"


def caller_in_ivr() -> CallMember:
    return CallMember.trunk_leg(
        MemberKind.INBOUND,
        caller="0611122233",
        callee="0581234500",
        trunk="carrier-a",
        channel_id="PJSIP/trunk-carrier-a-endpoint-0000a2d0",
        leg_id=CALL,
        status=MemberStatus.ANSWERED,
        call_path="6501",
    )


def texts(event: Dtmf, fmt: EventFormat) -> list[str]:
    return EventRenderer(SN).prepare(event).texts(fmt)


def test_the_spec_example_in_2_0_0() -> None:
    event = Dtmf(CALL, caller_in_ivr(), "4", 1, "24")
    expected = {
        "event": "DTMF",
        "callid": CALL,
        "members": [
            {
                "inbound": {
                    "from": "0611122233",
                    "to": "0581234500",
                    "trunkname": "carrier-a",
                    "channelid": "PJSIP/trunk-carrier-a-endpoint-0000a2d0",
                    "memberstatus": "ANSWERED",
                    "callpath": "6501",
                }
            }
        ],
        "info": "4",
        "flag": "1",
        "infos": "24",
        "sn": SN,
    }
    [text] = texts(event, EventFormat.V2)
    assert json.loads(text, object_pairs_hook=list) == json.loads(
        json.dumps(expected), object_pairs_hook=list
    )


def test_the_spec_example_in_the_legacy_formats() -> None:
    event = Dtmf(CALL, caller_in_ivr(), "4", 1, "24")
    party = (
        '{"from":"0611122233","to":"0581234500","trunk":"carrier-a","inboundid":"1718873300.912"}'
    )
    tail = f'"info":"4","flag":"1","infos":"24","sn":"{SN}"}}'
    assert texts(event, EventFormat.WELL_FORMED_LEGACY) == [
        f'{{"action":"DTMF","callid":"{CALL}","call":[{{"inbound":{party}}}],{tail}'
    ]
    assert texts(event, EventFormat.PLAIN_LEGACY) == [
        f'{{"action":"DTMF","callid":"{CALL}","inbound":{party},{tail}'
    ]


def test_an_extension_member_and_the_monitor_filter() -> None:
    event = Dtmf(CALL, ext("2101", MemberStatus.ANSWERED, "6200"), "#", 0, "#")
    [text] = texts(event, EventFormat.V2)
    body = json.loads(text)
    assert body["members"] == [
        {
            "ext": {
                "number": "2101",
                "channelid": "PJSIP/2101-0000a13e",
                "memberstatus": "ANSWERED",
                "callpath": "6200",
            }
        }
    ]
    assert (body["info"], body["flag"], body["infos"]) == ("#", "0", "#")
    assert texts(event, EventFormat.PLAIN_LEGACY)[0].startswith(
        f'{{"action":"DTMF","callid":"{CALL}","ext":{{"extid":"2101"}},"info":"#"'
    )
    assert event.is_monitored(lambda n: n == "2101", lambda t: False)
    assert not event.is_monitored(lambda n: False, lambda t: False)
