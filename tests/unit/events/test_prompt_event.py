"""PlayPromptEnd in the 2.0.0 and both legacy formats (80-events §4.10, 81 §4.14)."""

from __future__ import annotations

import json

from kilopbx.events.call_events import PlayPromptEnd
from kilopbx.events.call_model import CallMember, MemberKind
from kilopbx.events.versions import EventFormat

L0, L2 = EventFormat.PLAIN_LEGACY, EventFormat.WELL_FORMED_LEGACY
SN = "372816450923"


def _legacy(event: PlayPromptEnd, fmt: EventFormat) -> str:
    (report,) = event.wire_legacy()
    return report.encode(fmt, SN)


def test_variant_a_to_one_extension() -> None:
    member = CallMember.extension("2107", "PJSIP/2107-0000a311")
    event = PlayPromptEnd("1718874100.940", (member,), prompt="shift_change")
    assert event.wire_v2() == {
        "event": "PlayPromptEnd",
        "callid": "1718874100.940",
        "members": [{"ext": {"number": "2107", "channelid": "PJSIP/2107-0000a311"}}],
        "prompt": "shift_change",
    }
    expected = (
        '{"action":"PlayPromptEnd","callid":"1718874100.940","ext":{"extid":"2107"},'
        f'"prompt":"shift_change","sn":"{SN}"}}'
    )
    assert _legacy(event, L0) == _legacy(event, L2) == expected
    assert event.is_monitored(lambda _: False, lambda _: False)  # never filtered


def test_variant_a_to_a_paging_group_and_to_an_external_number() -> None:
    members = tuple(
        CallMember.extension(n, f"PJSIP/{n}-0000a31{i}", call_path="6300")
        for i, n in enumerate(("2101", "2107"))
    )
    event = PlayPromptEnd("1718874400.950", members, prompt="fire_drill_notice")
    assert event.wire_v2()["members"][0] == {
        "ext": {"number": "2101", "channelid": "PJSIP/2101-0000a310", "callpath": "6300"}
    }
    assert '"ext":{"extid":"2101"},"ext":{"extid":"2107"}' in _legacy(event, L0)
    assert '"call":[{"ext":{"extid":"2101"}},{"ext":{"extid":"2107"}}]' in _legacy(event, L2)
    outbound = CallMember.trunk_leg(
        MemberKind.OUTBOUND, caller="3102", callee="0612", trunk="carrier-a",
        channel_id="PJSIP/trunk-carrier-a-endpoint-000000b4", leg_id="1718874200.945",
    )  # fmt: skip
    external = PlayPromptEnd("1718874200.944", (outbound,), prompt="payment_reminder")
    assert _legacy(external, L2) == (
        '{"action":"PlayPromptEnd","callid":"1718874200.944",'
        '"outbound":{"trunkname":"carrier-a"},"prompt":"payment_reminder",'
        f'"sn":"{SN}"}}'
    )


def test_variant_b_an_ivr_prompt() -> None:
    inbound = CallMember.trunk_leg(
        MemberKind.INBOUND, caller="0611122233", callee="0581234500", trunk="carrier-a",
        channel_id="PJSIP/trunk-carrier-a-endpoint-0000a2d0", leg_id="1718873300.912",
        call_path="6501",
    )  # fmt: skip
    event = PlayPromptEnd("1718873300.912", (inbound,), ivr="6501")
    body = event.wire_v2()
    assert body["ivr"] == {"number": "6501"} and "prompt" not in body
    assert body["members"][0]["inbound"]["callpath"] == "6501"
    assert json.loads(_legacy(event, L2)) == {
        "action": "PlayPromptEnd",
        "callid": "1718873300.912",
        "call": [
            {
                "inbound": {
                    "from": "0611122233",
                    "to": "0581234500",
                    "trunk": "carrier-a",
                    "inboundid": "1718873300.912",
                }
            }
        ],
        "ivr": {"ivrid": "6501"},
        "playtonum": "0611122233",
        "sn": SN,
    }
