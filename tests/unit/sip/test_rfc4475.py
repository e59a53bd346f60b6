"""RFC 4475 torture messages through parse_message (data in tests/vectors/rfc4475)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kilopbx.sip.errors import SipParseError
from kilopbx.sip.message import SipRequest, SipResponse, make_response
from kilopbx.sip.parser import StreamFramer, parse_message
from kilopbx.sip.uri import AbsoluteUri, SipUri, TelUri, parse_uri

DATA = Path(__file__).resolve().parents[2] / "vectors" / "rfc4475"


def load(name: str) -> bytes:
    return (DATA / f"{name}.dat").read_bytes()


def request(name: str) -> SipRequest:
    message = parse_message(load(name))
    assert isinstance(message, SipRequest)
    return message


def response(name: str) -> SipResponse:
    message = parse_message(load(name))
    assert isinstance(message, SipResponse)
    return message


def sip_uri(uri: object) -> SipUri:
    assert isinstance(uri, SipUri)
    return uri


# §3.1.1 valid messages ---------------------------------------------------------


def test_wsinv_short_tortuous_invite() -> None:
    msg = request("wsinv")
    assert msg.method == "INVITE"
    ruri = sip_uri(msg.request_uri)
    assert (ruri.user, ruri.host, ruri.params) == (
        "vivekg",
        "chair-dnrc.example.com",
        {"unknownparam": None},
    )
    assert msg.to.tag == "1918181833n"
    assert sip_uri(msg.to.uri).user == "vivekg"
    assert msg.from_.display_name == 'J Rosenberg \\"'
    assert msg.from_.tag == "98asjd8"
    assert msg.max_forwards == 68
    assert msg.cseq == (9, "INVITE")
    assert msg.call_id == "wsinv.ndaksdj@192.0.2.1"
    vias = msg.vias
    assert [(v.transport, v.host, v.branch) for v in vias] == [
        ("UDP", "192.0.2.2", "390skdjuw"),
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    assert msg.headers.get("Subject") == ""
    assert msg.headers.get("NewFangledHeader") == "newfangled value continued newfangled value"
    assert msg.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    assert msg.headers.get_all("Route") == [
        "<sip:services.example.com;lr;unknownwith=value;unknown-no-value>"
    ]
    [contact] = msg.contacts
    assert contact.display_name == 'Quoted string ""'
    assert contact.params == {"newparam": "newvalue", "secondparam": None, "q": "0.33"}
    assert msg.content_type == "application/sdp"
    assert len(msg.body) == 150 and msg.body.endswith(b"a=rtpmap:31 LPC\r\n")


def test_intmeth_wide_range_of_valid_characters() -> None:
    msg = request("intmeth")
    method = "!interesting-Method0123456789_*+`.%indeed'~"
    assert msg.method == method
    assert msg.cseq == (139122385, method)
    ruri = sip_uri(msg.request_uri)
    assert ruri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert ruri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert ruri.host == "example.com"
    assert msg.top_via is not None and msg.top_via.branch == "z9hG4bK-.!%66*_+`'~"
    assert msg.to.display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert sip_uri(msg.to.uri).user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    sender = msg.from_
    assert sender.display_name == "token1~` token2'+_ token3*%!.-"
    assert sender.params["fromparam''~+*_!.-%"] == '"работающий"'
    assert sender.tag == "_token~1'+`*%!-."
    assert msg.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert msg.max_forwards == 255
    assert msg.headers.get("extensionHeader-!.%*+_`'~") == "\ufeff大停電"
    assert msg.body == b""


def test_esc01_escapes_are_decoded_where_the_grammar_allows() -> None:
    msg = request("esc01")
    assert sip_uri(msg.request_uri).user == "sips:user@example.com"
    assert sip_uri(msg.to.uri).user == "user"
    assert sip_uri(msg.from_.uri).user == "I have spaces"
    assert msg.call_id == "esc01.239409asdfakjkn23onasd0-3234"
    [contact] = msg.contacts
    contact_uri = sip_uri(contact.uri)
    assert contact_uri.user == "caller"
    # Parameter values stay escaped: "v%61lue%25%34%31" is not "valueA".
    assert contact_uri.params == {"%6c%72": None, "n%61me": "v%61lue%25%34%31"}
    assert msg.content_type == "application/sdp"
    assert len(msg.body) == 150


def test_escnull_keeps_nulls_in_user_parts() -> None:
    msg = request("escnull")
    assert sip_uri(msg.to.uri).user == "null-\x00-null"
    assert [sip_uri(c.uri).user for c in msg.contacts] == ["\x00", "\x00\x00"]
    assert msg.cseq == (14398234, "REGISTER")


def test_esc02_percent_is_not_an_escape_outside_uris() -> None:
    msg = request("esc02")
    assert msg.method == "RE%47IST%45R"
    assert msg.cseq == (29344, "RE%47IST%45R")
    assert msg.to.display_name == "%Z%45"
    assert msg.top_via is not None and msg.top_via.branch == "z9hG4bK209%fzsnel234"
    assert [sip_uri(c.uri).user for c in msg.contacts] == ["alias1", "alias3"]
    assert msg.headers.get("C%6Fntact") == "<sip:alias2@host2.example.com>"


def test_lwsdisp_display_name_without_space() -> None:
    msg = request("lwsdisp")
    assert msg.from_.display_name == "caller"
    assert msg.from_.tag == "323"


def test_longreq_long_values_and_many_vias() -> None:
    msg = request("longreq")
    to_uri = sip_uri(msg.to.uri)
    assert to_uri.port == 6000
    assert to_uri.params["longparam" + "name" * 25] == "shortvalue"
    assert msg.to.display_name == f"I have a user name of {'extreme' * 10} proportion"
    assert msg.from_.tag == "12" + "982" * 50 + "424"
    vias = msg.vias
    assert len(vias) == 34
    assert [v.host for v in vias[:33]] == [f"sip{n}.example.com" for n in range(33, 0, -1)]
    assert vias[33].received == "192.0.2.5"
    assert msg.call_id == "longreq.one" + "really" * 20 + "longcallid"
    assert len(msg.body) == 150


def test_dblreq_ignores_octets_after_content_length() -> None:
    msg = request("dblreq")
    assert msg.method == "REGISTER"
    assert msg.body == b""
    assert sip_uri(msg.contacts[0].uri).host == "host.example.com"


def test_semiuri_semicolon_in_user_part() -> None:
    msg = request("semiuri")
    assert sip_uri(msg.request_uri).user == "user;par=u@example.net"
    assert sip_uri(msg.request_uri).params == {}
    assert msg.headers.get_all("Accept") == [
        "application/sdp", "application/pkcs7-mime", "multipart/mixed",
        "multipart/signed", "message/sip", "message/sipfrag",
    ]  # fmt: skip


def test_transports_all_known_and_unknown() -> None:
    msg = request("transports")
    assert [v.transport for v in msg.vias] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]
    assert msg.call_id == "transports.kijh4akdnaqjkwendsasfdj"


def test_mpart01_binary_multipart_body() -> None:
    msg = request("mpart01")
    assert len(msg.body) == 553
    assert b"\x00" in msg.body
    assert msg.body.endswith(b"--7a9cbec02ceef655--\r\n")
    assert msg.content_type == "multipart/mixed"
    assert msg.top_via is not None and msg.top_via.rport == "" and msg.top_via.port == 5070
    assert msg.headers.get("Date") == "Sat, 15 Oct 2005 04:44:56 GMT"


def test_unreason_utf8_reason_phrase() -> None:
    msg = response("unreason")
    assert msg.status == 200
    assert msg.reason == "= 2**3 * 5**2 но сто девяносто девять - простое"
    assert len(msg.body) == 154


def test_noreason_empty_reason_phrase() -> None:
    msg = response("noreason")
    assert (msg.status, msg.reason) == (100, "")
    assert msg.to.tag == "902jndnke3"


# §3.1.2 invalid messages: (status to answer, or None to drop) ------------------

INVALID = {
    "badinv01": None,  # top Via unreadable: no response can be addressed (README)
    "clerr": 400,
    "ncl": 400,
    "scalar02": 400,
    "scalarlg": None,
    "quotbal": 400,
    "ltgtruri": 400,
    "lwsruri": 400,
    "lwsstart": 400,
    "trws": 400,
    "escruri": 400,
    "regbadct": 400,
    "badaspec": 400,
    "baddn": 400,
    "badvers": 505,
    "mismatch01": 400,
    "mismatch02": 400,
    "bigcode": None,
    # §3.1.4 messages that a parser already rejects:
    "insuf": 400,
    "mcl01": 400,
    "multi01": 400,
    "novelsc": 416,
    "unkscm": 416,
}


@pytest.mark.parametrize(("name", "status"), sorted(INVALID.items()))
def test_invalid_message_is_rejected(name: str, status: int | None) -> None:
    with pytest.raises(SipParseError) as caught:
        parse_message(load(name))
    error = caught.value
    assert error.status == status, error.reason
    if status is None:
        assert error.request is None
    else:
        assert error.request is not None
        answer = make_response(error.request, status, to_tag="t1")
        assert answer.headers.get_lines("Via") == error.request.headers.get_lines("Via")
        assert answer.headers.get("CSeq") == error.request.headers.get("CSeq")
        assert answer.to_bytes().startswith(f"SIP/2.0 {status} ".encode())


def test_scalar02_reason_names_the_cseq() -> None:
    with pytest.raises(SipParseError, match="CSeq"):
        parse_message(load("scalar02"))


def test_insuf_reason_names_the_missing_header() -> None:
    with pytest.raises(SipParseError, match="Call-ID"):
        parse_message(load("insuf"))


def test_baddate_is_accepted_because_date_is_not_used() -> None:
    assert request("baddate").headers.get("Date") == "Fri, 01 Jan 2010 16:00:00 EST"


# §3.1.3 / §3.1.4 messages that are syntactically valid ---------------------------


def test_badbranch_parses_with_bare_magic_cookie() -> None:
    via = request("badbranch").top_via
    assert via is not None and via.branch == "z9hG4bK" and via.is_rfc3261_branch


def test_bcast_response_parses() -> None:
    assert [v.host for v in response("bcast").vias] == ["192.0.2.198", "255.255.255.255"]


def test_bext01_require_lists() -> None:
    msg = request("bext01")
    assert msg.headers.get_all("Require") == ["nothingSupportsThis", "nothingSupportsThisEither"]
    assert msg.headers.get_all("Proxy-Require") == [
        "noProxiesSupportThis",
        "norDoAnyProxiesSupportThis",
    ]


def test_cparam01_addr_spec_params_belong_to_header() -> None:
    [contact] = request("cparam01").contacts
    assert contact.params == {"unknownparam": None}
    assert sip_uri(contact.uri).params == {}


def test_cparam02_name_addr_params_belong_to_uri() -> None:
    [contact] = request("cparam02").contacts
    assert contact.params == {}
    assert sip_uri(contact.uri).params == {"unknownparam": None}


def test_inv2543_rfc2543_request_without_max_forwards_or_length() -> None:
    msg = request("inv2543")
    assert msg.max_forwards is None
    assert msg.from_.tag is None
    assert msg.top_via is not None and msg.top_via.branch is None
    assert msg.body.endswith(b"m=audio 49217 RTP/AVP 0\r\n")


def test_invut_unknown_content_type() -> None:
    msg = request("invut")
    assert msg.content_type == "application/unknownformat"
    assert len(msg.body) == 40


def test_regaut01_unknown_auth_scheme_is_kept_verbatim() -> None:
    assert request("regaut01").headers.get("Authorization") == (
        "NoOneKnowsThisScheme opaque-data=here"
    )


def test_regescrt_contact_with_escaped_route_header() -> None:
    [contact] = request("regescrt").contacts
    assert sip_uri(contact.uri).headers == {"Route": "%3Csip:sip.example.com%3E"}


def test_sdp01_and_zeromf_parse() -> None:
    assert request("sdp01").headers.get("Accept") == "text/nobodyKnowsThis"
    assert request("zeromf").max_forwards == 0


def test_unksm2_unknown_schemes_in_headers_are_opaque() -> None:
    msg = request("unksm2")
    assert msg.to.uri == AbsoluteUri("isbn", "2983792873")
    assert msg.from_.uri == AbsoluteUri("http", "//www.example.com")
    assert msg.contacts[0].uri == AbsoluteUri("name", "John_Smith")


def test_request_uris_of_valid_messages_round_trip() -> None:
    for name in ("wsinv", "intmeth", "esc01", "semiuri", "longreq", "cparam01"):
        uri = request(name).uri
        parsed = parse_uri(uri)
        assert isinstance(parsed, SipUri | TelUri)
        assert parse_uri(str(parsed)) == parsed


def test_valid_messages_survive_a_serialise_parse_cycle() -> None:
    for name in ("wsinv", "intmeth", "esc01", "escnull", "longreq", "mpart01", "unreason"):
        first = parse_message(load(name))
        second = parse_message(first.to_bytes())
        assert second.headers == first.headers
        assert second.body == first.body


def test_clerr_on_a_stream_waits_for_the_body() -> None:
    framer = StreamFramer()
    assert framer.feed(load("clerr")) == []
    assert not framer.closed


def test_ncl_on_a_stream_is_fatal() -> None:
    framer = StreamFramer()
    [error] = framer.feed(load("ncl"))
    assert isinstance(error, SipParseError) and error.fatal and error.status == 400
    assert framer.closed
