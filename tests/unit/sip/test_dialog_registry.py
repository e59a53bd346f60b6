"""Dialog registry (§12.2.2): which dialog an in-dialog request or ACK belongs to, 481
for dialogs we do not have, 500 for old CSeqs; and the dialog's flow (where in-dialog
requests go when there is no route set)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from kilopbx.sip.dialog import Dialog, incoming_request_dialog_id
from kilopbx.sip.dialog_registry import NO_DIALOG, OUT_OF_ORDER, DialogRegistry
from kilopbx.sip.message import SipRequest, make_response
from kilopbx.sip.transport import Destination, Source
from tests.unit.sip.test_dialog import answer, invite_with_contact

RequestFactory = Callable[..., SipRequest]
PHONE = Source("udp", "203.0.113.7", 40123)  # the NATed address the phone sends from


@dataclass
class Entry:
    dialog: Dialog


def registry_with_uac_and_uas(
    sip_request: RequestFactory,
) -> tuple[DialogRegistry[Entry], Entry, Entry]:
    registry: DialogRegistry[Entry] = DialogRegistry()
    invite = invite_with_contact(sip_request)
    uac = Entry(Dialog.from_uac_response(invite, answer(invite)))
    uas_invite = invite_with_contact(sip_request, call_id="other", cseq=5)
    uas = Entry(Dialog.from_uas_request(uas_invite, "pbx-tag", source=PHONE))
    registry.add(uac)
    registry.add(uas)
    return registry, uac, uas


def test_requests_and_responses_match_by_call_id_and_tags(sip_request: RequestFactory) -> None:
    registry, uac, uas = registry_with_uac_and_uas(sip_request)
    assert len(registry) == 2
    # The callee's BYE in our UAC dialog: our tag (alice-tag) is in To now.
    peer_bye = sip_request("BYE", from_tag="bob-tag", to_tag="alice-tag", cseq=1)
    assert incoming_request_dialog_id(peer_bye) == uac.dialog.id
    assert registry.route_request(peer_bye, PHONE) is uac
    assert (
        registry.route_request(sip_request("BYE", call_id="other", to_tag="pbx-tag", cseq=6), PHONE)
        is uas
    )
    bye = uac.dialog.create_request("BYE")
    assert registry.match_response(make_response(bye, 200)) is uac
    registry.remove(uac)
    assert registry.route_request(peer_bye, PHONE) is NO_DIALOG
    assert registry.get(uas.dialog.id) is uas


@pytest.mark.parametrize(
    "method", ["BYE", "INVITE", "UPDATE", "INFO", "REFER", "NOTIFY", "PRACK", "OPTIONS"]
)
def test_request_naming_an_unknown_dialog_gets_481(
    sip_request: RequestFactory, method: str
) -> None:
    registry, _, _ = registry_with_uac_and_uas(sip_request)
    stray = sip_request(method, call_id="other", to_tag="not-ours")
    assert registry.route_request(stray, PHONE) == NO_DIALOG
    assert NO_DIALOG.status == 481


@pytest.mark.parametrize("method", ["INVITE", "OPTIONS", "REGISTER", "CANCEL"])
def test_requests_outside_dialogs_are_not_routed(sip_request: RequestFactory, method: str) -> None:
    registry, _, _ = registry_with_uac_and_uas(sip_request)
    assert registry.route_request(sip_request(method), PHONE) is None
    # REGISTER and CANCEL never belong to a dialog, even with a To tag.
    if method in ("REGISTER", "CANCEL"):
        assert registry.route_request(sip_request(method, to_tag="pbx-tag"), PHONE) is None


@pytest.mark.parametrize("method", ["BYE", "PRACK", "UPDATE"])
def test_dialog_only_requests_without_to_tag_get_481(
    sip_request: RequestFactory, method: str
) -> None:
    registry, _, _ = registry_with_uac_and_uas(sip_request)
    assert registry.route_request(sip_request(method), PHONE) == NO_DIALOG


def test_old_cseq_gets_500_and_leaves_the_dialog_unchanged(sip_request: RequestFactory) -> None:
    registry, _, uas = registry_with_uac_and_uas(sip_request)
    info = sip_request("INFO", call_id="other", to_tag="pbx-tag", cseq=7)
    assert registry.route_request(info, PHONE) is uas
    old = sip_request("INFO", call_id="other", to_tag="pbx-tag", cseq=6)
    assert registry.route_request(old, PHONE) == OUT_OF_ORDER
    assert OUT_OF_ORDER.status == 500
    assert uas.dialog.remote_cseq == 7


def test_ack_for_2xx_goes_to_its_dialog_and_unknown_acks_to_nobody(
    sip_request: RequestFactory,
) -> None:
    registry, _, uas = registry_with_uac_and_uas(sip_request)
    ack = sip_request("ACK", call_id="other", to_tag="pbx-tag", cseq=5)
    assert registry.route_ack(ack, PHONE) is uas
    assert registry.route_ack(sip_request("ACK", call_id="other", cseq=5), PHONE) is None
    assert registry.route_ack(sip_request("ACK", call_id="x", to_tag="pbx-tag"), PHONE) is None


def test_one_dialog_cannot_have_two_owners(sip_request: RequestFactory) -> None:
    registry, uac, _ = registry_with_uac_and_uas(sip_request)
    registry.add(uac)  # the same entry again is harmless
    with pytest.raises(ValueError, match="already registered"):
        registry.add(Entry(uac.dialog))


def test_flow_follows_the_peer_and_wins_over_contact_without_route_set(
    sip_request: RequestFactory,
) -> None:
    registry, _, uas = registry_with_uac_and_uas(sip_request)
    dialog = uas.dialog
    # The Contact says 10.0.0.1 (private); requests go where the phone sends from.
    assert dialog.remote_target == "sip:alice@10.0.0.1:5060"
    assert dialog.destination() == PHONE
    moved = Source("udp", "203.0.113.7", 40999)  # its NAT binding changed
    registry.route_request(sip_request("INFO", call_id="other", to_tag="pbx-tag", cseq=9), moved)
    assert dialog.destination() == moved
    # A flow the caller says is gone (a closed TCP connection): the Contact.
    assert dialog.destination(flow_usable=False) == Destination("udp", "10.0.0.1", 5060)


def test_route_set_wins_over_flow(sip_request: RequestFactory) -> None:
    invite = invite_with_contact(sip_request, extra=(("Record-Route", "<sip:10.9.9.9:5080;lr>"),))
    dialog = Dialog.from_uas_request(invite, "pbx-tag", source=PHONE)
    assert dialog.destination() == Destination("udp", "10.9.9.9", 5080)


def test_uac_dialog_without_flow_uses_contact(sip_request: RequestFactory) -> None:
    invite = invite_with_contact(sip_request)
    via_proxy = Dialog.from_uac_response(invite, answer(invite))
    assert via_proxy.destination() == Destination("udp", "10.0.0.2", 5070)
    direct = Dialog.from_uac_response(invite, answer(invite), flow=PHONE)
    assert direct.destination() == PHONE
