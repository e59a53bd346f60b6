"""Dialog state (§12): creation on both sides, routing, CSeq and target refresh."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kilopbx.sip.address import parse_name_addr
from kilopbx.sip.dialog import (
    Dialog,
    DialogError,
    DialogState,
)
from kilopbx.sip.message import SipRequest, SipResponse, make_response

RequestFactory = Callable[..., SipRequest]

CALLER_CONTACT = "<sip:alice@10.0.0.1:5060>"
CALLEE_CONTACT = "<sip:bob@10.0.0.2:5070;transport=udp>"


def invite_with_contact(sip_request: RequestFactory, **kwargs: object) -> SipRequest:
    extra = (("Contact", CALLER_CONTACT), *kwargs.pop("extra", ()))  # type: ignore[misc]
    return sip_request("INVITE", extra=extra, **kwargs)


def answer(
    request: SipRequest,
    status: int = 200,
    *,
    record_route: tuple[str, ...] = (),
    contact: str = CALLEE_CONTACT,
) -> SipResponse:
    extra = [("Record-Route", value) for value in record_route]
    extra.append(("Contact", contact))
    return make_response(request, status, to_tag="bob-tag", extra_headers=extra)


def test_uac_dialog_from_2xx(sip_request: RequestFactory) -> None:
    invite = invite_with_contact(sip_request, cseq=5)
    ok = answer(invite, record_route=("<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"))
    dialog = Dialog.from_uac_response(invite, ok)
    assert dialog.state is DialogState.CONFIRMED
    assert dialog.id == ("call-1@10.0.0.1", "alice-tag", "bob-tag")
    assert dialog.remote_target == "sip:bob@10.0.0.2:5070;transport=udp"
    assert dialog.route_set == ["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"]
    assert dialog.local_cseq == 5
    assert dialog.remote_cseq is None
    assert dialog.local_contact == CALLER_CONTACT


def test_uac_early_dialog_then_confirmed_by_2xx_recomputes_route_and_target(
    sip_request: RequestFactory,
) -> None:
    invite = invite_with_contact(sip_request)
    ringing = answer(invite, 180, record_route=("<sip:old.example.com;lr>",))
    dialog = Dialog.from_uac_response(invite, ringing)
    assert dialog.state is DialogState.EARLY
    ok = answer(invite, record_route=("<sip:new.example.com;lr>",), contact="<sip:bob@10.9.9.9>")
    dialog.confirm(ok)
    assert dialog.state is DialogState.CONFIRMED
    assert dialog.route_set == ["<sip:new.example.com;lr>"]
    assert dialog.remote_target == "sip:bob@10.9.9.9"


def test_uac_dialog_needs_to_tag_and_contact(sip_request: RequestFactory) -> None:
    invite = invite_with_contact(sip_request)
    untagged = make_response(invite, 180, extra_headers=[("Contact", CALLEE_CONTACT)])
    with pytest.raises(DialogError):
        Dialog.from_uac_response(invite, untagged)
    no_contact = make_response(invite, 200, to_tag="x")
    with pytest.raises(DialogError):
        Dialog.from_uac_response(invite, no_contact)


def test_uas_dialog_from_request(sip_request: RequestFactory) -> None:
    invite = invite_with_contact(
        sip_request,
        cseq=17,
        extra=(("Record-Route", "<sip:p1.example.com;lr>, <sip:p2.example.com;lr>"),),
    )
    dialog = Dialog.from_uas_request(invite, "our-tag", local_contact="<sip:pbx@10.0.0.5>")
    assert dialog.id == ("call-1@10.0.0.1", "our-tag", "alice-tag")
    assert dialog.route_set == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    assert dialog.remote_target == "sip:alice@10.0.0.1:5060"
    assert dialog.remote_cseq == 17
    assert dialog.local_cseq is None
    assert not dialog.is_uac
    bye = dialog.create_request("BYE")
    assert bye.to.tag == "alice-tag"
    assert bye.from_.tag == "our-tag"
    assert str(bye.from_.uri) == "sip:bob@example.com"
    assert bye.cseq[1] == "BYE"
    assert 1 <= bye.cseq[0] < 2**31
    assert bye.uri == "sip:alice@10.0.0.1:5060"
    assert bye.headers.get_all("Route") == dialog.route_set
    assert "Contact" not in bye.headers


def test_in_dialog_requests_count_up_and_carry_contact_on_refresh(
    sip_request: RequestFactory,
) -> None:
    invite = invite_with_contact(sip_request, cseq=1)
    dialog = Dialog.from_uac_response(invite, answer(invite))
    info = dialog.create_request(
        "INFO", headers=[("Content-Type", "application/dtmf-relay")], body=b"Signal=5\r\n"
    )
    reinvite = dialog.create_request("INVITE")
    assert info.cseq == (2, "INFO")
    assert info.body == b"Signal=5\r\n"
    assert "Contact" not in info.headers
    assert reinvite.cseq == (3, "INVITE")
    assert reinvite.headers.get("Contact") == CALLER_CONTACT
    assert reinvite.uri == dialog.remote_target
    ack = dialog.create_ack(3)
    assert ack.cseq == (3, "ACK")
    assert dialog.local_cseq == 3


def test_strict_router_goes_into_request_uri(sip_request: RequestFactory) -> None:
    invite = invite_with_contact(sip_request)
    ok = answer(invite, record_route=("<sip:strict.example.com>", "<sip:loose.example.com;lr>"))
    dialog = Dialog.from_uac_response(invite, ok)
    assert dialog.route_set == ["<sip:loose.example.com;lr>", "<sip:strict.example.com>"]
    bye = dialog.create_request("BYE")
    assert bye.uri == dialog.remote_target  # first hop is a loose router
    assert bye.headers.get_all("Route") == dialog.route_set
    dialog.route_set = ["<sip:strict.example.com>", "<sip:loose.example.com;lr>"]
    bye = dialog.create_request("BYE")
    assert bye.uri == "sip:strict.example.com"
    assert bye.headers.get_all("Route") == [
        "<sip:loose.example.com;lr>",
        "<sip:bob@10.0.0.2:5070;transport=udp>",
    ]


def test_remote_cseq_rejects_out_of_order_and_target_refresh_moves_target(
    sip_request: RequestFactory,
) -> None:
    invite = invite_with_contact(sip_request, cseq=10)
    dialog = Dialog.from_uas_request(invite, "our-tag")
    reinvite = sip_request(
        "INVITE", cseq=11, to_tag="our-tag", extra=(("Contact", "<sip:alice@10.7.7.7>"),)
    )
    assert dialog.receive_request(reinvite)
    assert dialog.remote_cseq == 11
    assert dialog.remote_target == "sip:alice@10.7.7.7"
    stale = sip_request("INFO", cseq=9, to_tag="our-tag")
    assert not dialog.receive_request(stale)
    assert dialog.remote_cseq == 11
    ack = sip_request("ACK", cseq=11, to_tag="our-tag")
    assert dialog.receive_request(ack)
    bye = sip_request("BYE", cseq=12, to_tag="our-tag", extra=(("Contact", "<sip:x@1.2.3.4>"),))
    assert dialog.receive_request(bye)
    assert dialog.remote_target == "sip:alice@10.7.7.7"  # BYE is not a target refresh


def test_2xx_to_reinvite_refreshes_target(sip_request: RequestFactory) -> None:
    invite = invite_with_contact(sip_request)
    dialog = Dialog.from_uac_response(invite, answer(invite))
    reinvite = dialog.create_request("INVITE")
    dialog.receive_response(reinvite, answer(reinvite, contact="<sip:bob@10.3.3.3>"))
    assert dialog.remote_target == "sip:bob@10.3.3.3"
    dialog.receive_response(reinvite, answer(reinvite, 488, contact="<sip:bob@10.4.4.4>"))
    assert dialog.remote_target == "sip:bob@10.3.3.3"


def test_next_hop_is_first_route_or_remote_target(sip_request: RequestFactory) -> None:
    invite = invite_with_contact(sip_request)
    direct = Dialog.from_uac_response(invite, answer(invite))
    assert str(direct.next_hop()) == "sip:bob@10.0.0.2:5070;transport=udp"
    routed = Dialog.from_uac_response(
        invite, answer(invite, record_route=("<sip:10.0.0.7:5090;lr>",))
    )
    assert str(routed.next_hop()) == "sip:10.0.0.7:5090;lr"


def test_in_dialog_from_and_to_follow_a_changed_tag_or_address(
    sip_request: RequestFactory,
) -> None:
    invite = invite_with_contact(sip_request, cseq=1)
    dialog = Dialog.from_uac_response(
        invite, answer(invite, record_route=("<sip:p1.example.com;lr>",))
    )
    bye = dialog.create_request("BYE", headers=[("Reason", "SIP;cause=200")])
    assert bye.from_.tag == "alice-tag" and bye.to.tag == "bob-tag"
    assert bye.from_.uri == invite.from_.uri and bye.to.uri == invite.to.uri
    assert [name for name in bye.headers] == [
        "Route", "Max-Forwards", "From", "To", "Call-ID", "CSeq", "Reason",
    ]  # fmt: skip
    assert bye.headers.get("Route") == "<sip:p1.example.com;lr>"
    assert dialog.create_request("BYE").headers.get("From") == bye.headers.get("From")
    dialog.remote_tag = "other-fork"
    assert dialog.create_request("BYE").to.tag == "other-fork"
    dialog.local_address = parse_name_addr('"Alice A" <sip:alice@example.com>')
    again = dialog.create_request("BYE")
    assert again.from_.display_name == "Alice A" and again.from_.tag == "alice-tag"
