"""`Invite` and `Incoming` against the examples of 80-events §4.1/§4.2 and
81-events-legacy §4.4/§4.5: exact bytes in the legacy formats, key order in 2.0.0."""

from __future__ import annotations

import json

from kilopbx.events.call_events import InboundRouted, InboundWaiting
from kilopbx.events.render import EventRenderer
from kilopbx.events.versions import EventFormat
from tests.unit.events.spec_calls import INBOUND_CALL, SN, inbound

PARTY = (
    f'{{"from":"0612345678","to":"0581234500","trunk":"carrier-a","inboundid":"{INBOUND_CALL}"}}'
)


def test_invite_matches_the_spec_example() -> None:
    body = InboundWaiting(INBOUND_CALL, inbound()).wire_v2()
    assert body == {
        "event": "Invite",
        "callid": INBOUND_CALL,
        "members": [
            {
                "inbound": {
                    "from": "0612345678",
                    "to": "0581234500",
                    "trunkname": "carrier-a",
                    "channelid": "PJSIP/trunk-carrier-a-endpoint-0000a140",
                }
            }
        ],
    }
    assert list(body) == ["event", "callid", "members"]
    assert list(body["members"][0]["inbound"]) == ["from", "to", "trunkname", "channelid"]


def test_incoming_has_the_same_layout() -> None:
    waiting = InboundWaiting(INBOUND_CALL, inbound()).wire_v2()
    routed = InboundRouted(INBOUND_CALL, inbound()).wire_v2()
    assert routed == {**waiting, "event": "Incoming"}


def test_legacy_examples_in_both_formats() -> None:
    for event, action in ((InboundWaiting, "Invite"), (InboundRouted, "Incoming")):
        rendered = EventRenderer(SN).prepare(event(INBOUND_CALL, inbound()))
        head = f'{{"action":"{action}","callid":"{INBOUND_CALL}",'
        tail = f',"sn":"{SN}"}}'
        assert rendered.texts(EventFormat.PLAIN_LEGACY) == [f'{head}"inbound":{PARTY}{tail}']
        assert rendered.texts(EventFormat.WELL_FORMED_LEGACY) == [
            f'{head}"call":[{{"inbound":{PARTY}}}]{tail}'
        ]
        assert json.loads(rendered.texts(EventFormat.V2)[0])["sn"] == SN


def test_never_filtered_by_the_status_monitor() -> None:
    event = InboundWaiting(INBOUND_CALL, inbound())
    assert event.is_monitored(lambda _: False, lambda _: False)
