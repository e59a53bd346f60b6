"""Legacy call reports against the texts of 81-events-legacy.md: exact bytes, so key
order and the repeated keys of the plain format (L0) are checked too."""

from __future__ import annotations

from kilopbx.events.call_events import CallFailed, CallStatus, Forward, NewCdr
from kilopbx.events.call_events_legacy import MAX_CALLS
from kilopbx.events.call_model import (
    CallMember,
    FailureReason,
    MemberStatus,
)
from kilopbx.events.render import EventRenderer
from kilopbx.events.types import Event
from kilopbx.events.versions import EventFormat
from tests.unit.events.spec_calls import (
    ALERT,
    ANSWER,
    ANSWERED,
    BYE,
    DIAL_CALL,
    HOLD,
    I_TEXT,
    INBOUND_CALL,
    INTERNAL_CALL,
    O_TEXT,
    RING,
    SN,
    E,
    ext,
    failed_outbound,
    forwarded_caller,
    inbound,
    missed_outbound_record,
    outbound,
    record,
)

L0, L2 = EventFormat.PLAIN_LEGACY, EventFormat.WELL_FORMED_LEGACY
TAIL = f'"sn":"{SN}"}}'


def report(action: str, call_id: str, *parties: str) -> str:
    """One L0 report as the spec writes it."""
    return "".join(
        [f'{{"action":"{action}","callid":"{call_id}",', *(p + "," for p in parties), TAIL]
    )


class Flow:
    """Feeds 2.0.0 events through one renderer, as the reporter does, and collects the
    reports a legacy session receives."""

    def __init__(self, fmt: EventFormat = L0) -> None:
        self.renderer = EventRenderer(SN)
        self.fmt = fmt

    def __call__(self, event: Event) -> list[str]:
        return self.renderer.prepare(event).texts(self.fmt)

    def status(self, call_id: str, *members: CallMember) -> list[str]:
        return self(CallStatus(call_id, members))


def test_ring_example_in_both_legacy_formats() -> None:
    plain, well_formed = Flow(L0), Flow(L2)
    for flow in (plain, well_formed):
        flow.status(INTERNAL_CALL, ext("2101", ALERT))
    snapshot = (ext("2101", ALERT), ext("2102", RING))
    assert plain.status(INTERNAL_CALL, *snapshot) == [
        '{"action":"RING","callid":"1718870100.760","ext":{"extid":"2102"},'
        '"ext":{"extid":"2101"},"sn":"372816450923"}'
    ]
    assert well_formed.status(INTERNAL_CALL, *snapshot) == [
        '{"action":"RING","callid":"1718870100.760","call":[{"ext":{"extid":"2102"}},'
        '{"ext":{"extid":"2101"}}],"sn":"372816450923"}'
    ]


def test_inbound_call_answered_by_2102_flow() -> None:
    flow = Flow()
    got = flow.status(INBOUND_CALL, inbound(ALERT), ext("2102", RING))
    got += flow.status(INBOUND_CALL, inbound(ANSWERED), ext("2102", ANSWER))
    got += flow.status(INBOUND_CALL, inbound(BYE), ext("2102", ANSWER))
    got += flow.status(INBOUND_CALL, ext("2102", BYE))
    assert got == [
        report("ALERT", INBOUND_CALL, I_TEXT),
        report("RING", INBOUND_CALL, E("2102"), I_TEXT),
        report("ANSWERED", INBOUND_CALL, I_TEXT, E("2102")),
        report("ANSWER", INBOUND_CALL, E("2102"), I_TEXT),
        report("BYE", INBOUND_CALL, I_TEXT, E("2102")),
        report("BYE", INBOUND_CALL, E("2102"), I_TEXT),
    ]
    assert len(flow.renderer.calls) == 0  # every member left: the call is forgotten


def test_extension_calls_extension_flow() -> None:
    flow = Flow()
    got = flow.status(INTERNAL_CALL, ext("2101", ALERT), ext("2102", RING))
    got += flow.status(INTERNAL_CALL, ext("2101", ANSWERED), ext("2102", ANSWER))
    got += flow.status(INTERNAL_CALL, ext("2101", ANSWERED), ext("2102", BYE))
    got += flow.status(INTERNAL_CALL, ext("2101", BYE))
    assert got == [
        report("ALERT", INTERNAL_CALL, E("2101")),
        report("RING", INTERNAL_CALL, E("2102"), E("2101")),
        report("ANSWERED", INTERNAL_CALL, E("2101"), E("2102")),
        report("ANSWER", INTERNAL_CALL, E("2102"), E("2101")),
        report("BYE", INTERNAL_CALL, E("2102"), E("2101")),
        report("BYE", INTERNAL_CALL, E("2101"), E("2102")),
    ]


def test_call_dial_flow_rings_the_caller_first() -> None:
    flow = Flow()
    got = flow.status(DIAL_CALL, ext("2101", ALERT))
    got += flow.status(DIAL_CALL, ext("2101", ALERT), outbound(RING))
    got += flow.status(DIAL_CALL, ext("2101", ANSWERED), outbound(ANSWER))
    got += flow.status(DIAL_CALL, ext("2101", BYE), outbound(ANSWER))
    got += flow.status(DIAL_CALL, outbound(BYE))
    assert got == [
        report("ALERT", DIAL_CALL, E("2101")),
        report("RING", DIAL_CALL, O_TEXT, E("2101")),
        report("ANSWERED", DIAL_CALL, E("2101"), O_TEXT),
        report("ANSWER", DIAL_CALL, O_TEXT, E("2101")),
        report("BYE", DIAL_CALL, E("2101"), O_TEXT),
        report("BYE", DIAL_CALL, O_TEXT, E("2101")),
    ]


def test_spec_single_report_examples_in_l2() -> None:
    flow = Flow(L2)
    assert flow.status(INTERNAL_CALL, ext("2101", ALERT)) == [
        '{"action":"ALERT","callid":"1718870100.760","call":[{"ext":{"extid":"2101"}}],'
        '"sn":"372816450923"}'
    ]
    flow.status(DIAL_CALL, ext("2101", ALERT), outbound(RING))
    assert flow.status(DIAL_CALL, ext("2101", ANSWERED), outbound(ANSWER))[0] == (
        '{"action":"ANSWERED","callid":"1718871500.811","call":[{"ext":{"extid":"2101"}},'
        '{"outbound":{"from":"2101","to":"0623456789","trunk":"carrier-a",'
        '"outboundid":"1718871500.812"}}],"sn":"372816450923"}'
    )


def test_blind_transfer_flow_and_hold_produces_nothing() -> None:
    flow = Flow()
    flow.status(INBOUND_CALL, inbound(ALERT), ext("2102", RING))
    flow.status(INBOUND_CALL, inbound(ANSWERED), ext("2102", ANSWER))
    assert flow.status(INBOUND_CALL, inbound(ANSWERED), ext("2102", HOLD)) == []
    got = flow.status(INBOUND_CALL, inbound(ANSWERED), ext("2102", BYE))
    got += flow.status(INBOUND_CALL, inbound(ALERT), ext("2105", RING))
    got += flow.status(INBOUND_CALL, inbound(ANSWERED), ext("2105", ANSWER))
    assert got == [
        report("BYE", INBOUND_CALL, E("2102"), I_TEXT),
        report("ALERT", INBOUND_CALL, I_TEXT),
        report("RING", INBOUND_CALL, E("2105"), I_TEXT),
        report("ANSWERED", INBOUND_CALL, I_TEXT, E("2105")),
        report("ANSWER", INBOUND_CALL, E("2105"), I_TEXT),
    ]


def test_ring_group_one_alert_then_bye_for_the_losers() -> None:
    flow = Flow()
    got = flow.status(INBOUND_CALL, inbound(ALERT), ext("2102", RING), ext("2103", RING))
    got += flow.status(INBOUND_CALL, inbound(ANSWERED), ext("2102", BYE), ext("2103", ANSWER))
    assert got == [
        report("ALERT", INBOUND_CALL, I_TEXT),
        report("RING", INBOUND_CALL, E("2102"), I_TEXT),
        report("RING", INBOUND_CALL, E("2103"), I_TEXT),
        report("ANSWERED", INBOUND_CALL, I_TEXT, E("2103")),
        report("ANSWER", INBOUND_CALL, E("2103"), I_TEXT),
        report("BYE", INBOUND_CALL, E("2102"), I_TEXT),
    ]


def test_caller_abandons_while_the_callee_rings() -> None:
    flow = Flow()
    flow.status(INTERNAL_CALL, ext("2101", ALERT), ext("2102", RING))
    got = flow.status(INTERNAL_CALL, ext("2101", BYE), ext("2102", RING))
    got += flow.status(INTERNAL_CALL, ext("2102", BYE))
    assert got == [
        report("BYE", INTERNAL_CALL, E("2101"), E("2102")),
        report("BYE", INTERNAL_CALL, E("2102"), E("2101")),
    ]


def test_members_first_seen_answered_or_gone() -> None:
    flow = Flow()
    # a legacy view that starts mid-call still gets a consistent pair of reports
    got = flow.status(INTERNAL_CALL, ext("2101", ANSWERED), ext("2102", ANSWER), ext("2103", BYE))
    assert got == [
        report("ALERT", INTERNAL_CALL, E("2101")),
        report("RING", INTERNAL_CALL, E("2102"), E("2101")),
        report("ANSWERED", INTERNAL_CALL, E("2101"), E("2102")),
        report("ANSWER", INTERNAL_CALL, E("2102"), E("2101")),
    ]
    assert flow.status(INTERNAL_CALL, ext("2101", ANSWERED), ext("2102", ANSWER)) == []


def test_state_is_per_call_bounded_and_dropped_by_new_cdr() -> None:
    flow = Flow()
    for n in range(MAX_CALLS + 5):
        flow.status(f"1700000000.{n}", ext("2101", ALERT))
    assert len(flow.renderer.calls) == MAX_CALLS
    flow(NewCdr(record(call_id="1700000000.7")))
    assert len(flow.renderer.calls) == MAX_CALLS - 1
    # the oldest calls were forgotten: their next snapshot starts again
    assert flow.status("1700000000.0", ext("2101", ALERT)) == [
        report("ALERT", "1700000000.0", E("2101"))
    ]


def test_forward_becomes_a_tranfer_with_the_calling_party() -> None:
    caller = forwarded_caller()
    assert Flow(L2)(Forward("1718871005.802", caller)) == [
        '{"action":"Tranfer","callid":"1718871005.802","call":[{"inbound":{"from":"0698765432",'
        '"to":"2105","trunk":"carrier-a","inboundid":"1718871005.802"}}],"sn":"372816450923"}'
    ]


def test_call_failed_parties_stay_top_level_in_both_formats() -> None:
    leg = failed_outbound()
    event = CallFailed("1718872110.845", FailureReason.BUSY_HERE, ext("2101"), leg)
    expected = (
        '{"action":"CallFailed","reason":"486 Busy here","callid":"1718872110.845",'
        '"outbound":{"from":"2101","to":"0634455667","trunk":"carrier-a",'
        '"outboundid":"1718872110.846"},"ext":{"extid":"2101"},"sn":"372816450923"}'
    )
    assert Flow(L0)(event) == [expected]
    assert Flow(L2)(event) == [expected]


def test_new_cdr_legacy_examples(utc: None) -> None:
    answered = record()
    missed = missed_outbound_record()
    for fmt in (L0, L2):
        assert Flow(fmt)(NewCdr(answered)) == [
            '{"action":"NewCdr","callid":"1718869200.731","timestart":"2024-06-20 09:40:00",'
            '"callfrom":"0612345678","callto":"2102","srctrunkname":"carrier-a",'
            '"callduraction":"95","talkduraction":"81","status":"ANSWERED","type":"Inbound",'
            '"recording":"20240620094014-1718869200.731-0612345678-2102-Inbound.wav",'
            '"didnumber":"0581234500","sn":"372816450923"}'
        ]
        assert Flow(fmt)(NewCdr(missed)) == [
            '{"action":"NewCdr","callid":"1718872300.851","timestart":"2024-06-20 10:31:40",'
            '"callfrom":"2101","callto":"0634455667","desttrunkname":"carrier-a",'
            '"callduraction":"32","talkduraction":"0","status":"NO ANSWER","type":"Outbound",'
            '"pincode":"4821","sn":"372816450923"}'
        ]


def test_hostile_values_stay_inside_their_strings() -> None:
    nasty = CallMember.extension('21"}, "sn": "x', "PJSIP/x-1", MemberStatus.ALERT)
    text = Flow()(CallStatus('1.1"', (nasty,)))[0]
    assert text.endswith(TAIL) and text.count('"sn":') == 1
