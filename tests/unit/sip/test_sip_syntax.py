"""Headers, URIs, name-addr and Via values."""

from __future__ import annotations

import pytest

from kilopbx.sip.address import NameAddr, parse_name_addr
from kilopbx.sip.errors import HeaderValueError, UnsupportedUriScheme, UriParseError
from kilopbx.sip.headers import Headers, canonical_name, split_list_value
from kilopbx.sip.uri import (
    AbsoluteUri,
    SipUri,
    TelUri,
    bare_host,
    hosts_equal,
    parse_any_uri,
    parse_uri,
    uri_equal,
)
from kilopbx.sip.via import Via, parse_via

# Headers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("compact", "long"),
    [
        ("i", "Call-ID"), ("m", "Contact"), ("f", "From"), ("t", "To"), ("v", "Via"),
        ("l", "Content-Length"), ("c", "Content-Type"), ("k", "Supported"), ("s", "Subject"),
        ("e", "Content-Encoding"), ("o", "Event"), ("r", "Refer-To"), ("b", "Referred-By"),
        ("u", "Allow-Events"), ("x", "Session-Expires"), ("a", "Accept-Contact"),
        ("j", "Reject-Contact"), ("d", "Request-Disposition"),
    ],
)  # fmt: skip
def test_compact_forms_are_normalised(compact: str, long: str) -> None:
    headers = Headers([(compact.upper(), "value")])
    assert list(headers.items()) == [(long, "value")]
    assert headers.get(long.lower()) == "value"
    assert headers.get(compact) == "value"
    assert long in headers and compact in headers


def test_names_are_case_insensitive_and_well_spelt() -> None:
    headers = Headers([("call-id", "a"), ("CSEQ", "1 INVITE"), ("www-authenticate", "x")])
    assert [name for name, _ in headers.items()] == ["Call-ID", "CSeq", "WWW-Authenticate"]
    assert canonical_name("x-custom-Header") == "x-custom-Header"


def test_list_headers_split_respecting_quotes_and_brackets() -> None:
    headers = Headers()
    headers.add("Contact", '"Doe, John" <sip:a@b;x=1,2>;q=0.5, <sip:c@d>')
    headers.add("m", "sip:e@f")
    headers.add("Allow", "INVITE, ACK,BYE")
    assert headers.get_all("Contact") == [
        '"Doe, John" <sip:a@b;x=1,2>;q=0.5',
        "<sip:c@d>",
        "sip:e@f",
    ]
    assert headers.get("Contact") == '"Doe, John" <sip:a@b;x=1,2>;q=0.5'
    assert headers.get_all("allow") == ["INVITE", "ACK", "BYE"]
    assert split_list_value(r'"a \", b", c') == [r'"a \", b"', "c"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WWW-Authenticate", 'Digest realm="r", nonce="n", qop="auth,auth-int"'),
        ("Authorization", 'Digest username="u", realm="r"'),
        ("Proxy-Authenticate", 'Digest realm="r", nonce="n"'),
        ("Proxy-Authorization", 'Digest username="u", realm="r"'),
        ("Date", "Sat, 13 Nov 2010 23:29:00 GMT"),
        ("Subject", "lunch, maybe"),
    ],
)
def test_headers_with_commas_that_are_not_separators(name: str, value: str) -> None:
    headers = Headers([(name, value)])
    assert headers.get_all(name) == [value]
    assert headers.get(name) == value


def test_set_remove_copy_and_order() -> None:
    headers = Headers([("Via", "v1"), ("To", "t"), ("Via", "v2"), ("From", "f")])
    clone = headers.copy()
    headers.set("via", "v3")
    assert list(headers.items()) == [("Via", "v3"), ("To", "t"), ("From", "f")]
    headers.remove("TO")
    assert "To" not in headers and len(headers) == 2
    headers.remove("Nothing")
    headers.set("Max-Forwards", "70")
    assert list(headers)[-1] == "Max-Forwards"
    assert clone.get_lines("Via") == ["v1", "v2"]
    assert clone != headers and clone == clone.copy()
    headers.prepend("Via", "v0")
    assert headers.get_all("Via") == ["v0", "v3"]
    assert 42 not in headers


# URIs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "sip:alice@atlanta.com",
        "sips:alice:secretword@atlanta.com;transport=tcp",
        "sip:+1-212-555-1212:1234@gateway.com;user=phone",
        "sip:alice@192.0.2.4:5061",
        "sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com",
        "sip:alice;day=tuesday@atlanta.com",
        "sip:[2001:db8::10]:5070;transport=udp;lr",
        "sip:%61lice@atlanta.com",
        "tel:+1-201-555-0123",
        "tel:7042;phone-context=example.com",
    ],
)
def test_uris_round_trip(text: str) -> None:
    uri = parse_uri(text)
    assert parse_uri(str(uri)) == uri
    if "%61" not in text:
        assert str(uri) == text


def test_sip_uri_fields() -> None:
    uri = parse_uri(
        "sips:alice:pw@[2001:DB8::10]:5071;transport=TLS;lr;maddr=239.255.255.1?subject=hi"
    )
    assert isinstance(uri, SipUri)
    assert (uri.scheme, uri.user, uri.password, uri.port) == ("sips", "alice", "pw", 5071)
    assert uri.host == "[2001:DB8::10]" and bare_host(uri.host) == "2001:DB8::10"
    assert uri.transport == "tls" and uri.loose_route and uri.maddr == "239.255.255.1"
    assert uri.headers == {"subject": "hi"}
    assert uri.host_port == "[2001:DB8::10]:5071"
    copy = uri.copy()
    copy.params["lr"] = "x"
    assert uri.params["lr"] is None


def test_tel_uri() -> None:
    uri = parse_uri("tel:+1-201-555-0123;Phone-Context=x")
    assert isinstance(uri, TelUri)
    assert uri.is_global and uri.digits == "+12015550123" and uri.params == {"phone-context": "x"}


@pytest.mark.parametrize(
    "text",
    [
        "sip:", "sip:alice@", "sip:alice@host:99999", "sip:alice@host:port", "sip:al ice@host",
        "sip:[::1", "sip:[zz::1]", "sip:alice@300.1.1.1", "sip:host;=x", "nocolon", ":x",
        "sip:a@-bad-.com", "tel:", "tel:12a;", "sip:alice@host?x=<y>",
    ],
)  # fmt: skip
def test_malformed_uris(text: str) -> None:
    with pytest.raises(UriParseError):
        parse_uri(text)


def test_other_schemes() -> None:
    with pytest.raises(UnsupportedUriScheme) as caught:
        parse_uri("mailto:a@b.c")
    assert caught.value.scheme == "mailto"
    assert parse_any_uri("urn:service:sos") == AbsoluteUri("urn", "service:sos")
    with pytest.raises(UriParseError):
        parse_any_uri("http://a b")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"),
        ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
        ("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;newparam=5"),
        ("sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
         "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"),
        ("sip:alice@atlanta.com?subject=project%20x&priority=urgent",
         "sip:alice@atlanta.com?priority=urgent&subject=project%20x"),
        ("sip:a@[2001:db8::1]", "sip:a@[2001:DB8:0:0:0:0:0:1]"),
        ("tel:+1-201-555-0123", "tel:+12015550123"),
    ],
)  # fmt: skip
def test_rfc3261_equal_uris(first: str, second: str) -> None:
    assert uri_equal(parse_uri(first), parse_uri(second))
    assert uri_equal(parse_uri(second), parse_uri(first))


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"),
        ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"),
        ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
        ("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off"),
        ("sip:a@b", "sips:a@b"),
        ("sip:a@b", "tel:+1"),
    ],
)
def test_rfc3261_unequal_uris(first: str, second: str) -> None:
    assert not uri_equal(parse_uri(first), parse_uri(second))


def test_absolute_uri_equality_and_hosts() -> None:
    assert uri_equal(AbsoluteUri("urn", "a%41"), AbsoluteUri("urn", "aA"))
    assert not uri_equal(AbsoluteUri("urn", "a"), parse_uri("sip:a@b"))
    assert hosts_equal("Example.COM.", "example.com")
    assert not hosts_equal("[::1]", "[::2]")


# name-addr -----------------------------------------------------------------------


def test_name_addr_forms() -> None:
    quoted = parse_name_addr('"Alice \\"A\\"" <sip:alice@atlanta.com;lr>;tag=1928301774')
    assert quoted.display_name == 'Alice "A"' and quoted.tag == "1928301774"
    assert isinstance(quoted.uri, SipUri) and quoted.uri.params == {"lr": None}
    assert str(quoted) == '"Alice \\"A\\"" <sip:alice@atlanta.com;lr>;tag=1928301774'
    tokens = parse_name_addr("Bob  Smith <sip:bob@biloxi.com>")
    assert tokens.display_name == "Bob Smith" and tokens.tag is None
    spec = parse_name_addr("sip:carol@chicago.com;tag=88;expires=60")
    assert spec.display_name is None and spec.params == {"tag": "88", "expires": "60"}
    assert isinstance(spec.uri, SipUri) and spec.uri.params == {}
    assert str(spec.with_tag("99")) == "<sip:carol@chicago.com>;tag=99;expires=60"
    instance = parse_name_addr('<sip:a@b>;+sip.instance="<urn:uuid:00000000-0000-1000>";reg-id=1')
    assert instance.params["+sip.instance"] == '"<urn:uuid:00000000-0000-1000>"'
    assert parse_name_addr("Jürgen Groß <sip:jg@b>").display_name == "Jürgen Groß"
    tel = parse_name_addr("<tel:+15551234>")
    assert tel.uri == TelUri("+15551234")


@pytest.mark.parametrize(
    "text",
    ["", "   ", "Bell, Alex <sip:a@b>", '"open <sip:a@b>', "<sip:a@b", "< sip:a@b >",
     "sip:a@b?subject=x", "sip:a@b,sip:c@d", "<sip:a@b> junk", "Alice"],
)  # fmt: skip
def test_malformed_name_addr(text: str) -> None:
    with pytest.raises(HeaderValueError):
        parse_name_addr(text)


def test_name_addr_built_in_code() -> None:
    address = NameAddr("Desk 12", parse_uri("sip:1012@pbx.example"), {"tag": "a1"})
    assert str(address) == '"Desk 12" <sip:1012@pbx.example>;tag=a1'
    assert parse_name_addr(str(address)) == address


# Via -----------------------------------------------------------------------------


def test_via_fields_and_rport() -> None:
    via = parse_via("SIP/2.0/udp 192.0.2.1:5060;branch=z9hG4bK776asdhds;rport;received=10.0.0.1")
    assert (via.transport, via.host, via.port) == ("UDP", "192.0.2.1", 5060)
    assert via.branch == "z9hG4bK776asdhds" and via.is_rfc3261_branch
    assert via.rport == "" and via.received == "10.0.0.1"
    assert str(via) == "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;rport;received=10.0.0.1"
    plain = parse_via("SIP/2.0/TCP host.example.com")
    assert plain.rport is None and plain.branch is None and plain.sent_by == "host.example.com"
    filled = parse_via("SIP/2.0/UDP h;rport=5070")
    assert filled.rport == "5070"


def test_via_with_lws_and_ipv6() -> None:
    via = parse_via(" SIP / 2.0 / TLS [2001:db8::9] : 5061 ; maddr=[2001:db8::1] ; ttl=1")
    assert (via.transport, via.host, via.port) == ("TLS", "[2001:db8::9]", 5061)
    assert via.maddr == "[2001:db8::1]" and via.params["ttl"] == "1"
    copy = via.copy()
    copy.params.clear()
    assert via.params


@pytest.mark.parametrize(
    "text",
    ["", "SIP/2.0", "SIP/2.0/UDP", "HTTP/1.1/TCP host", "SIP/2.0/UDP host:port",
     "SIP/2.0/UDP host;;", "SIP/2.0/UDP [::1", "SIP 2.0/UDP host"],
)  # fmt: skip
def test_malformed_via(text: str) -> None:
    with pytest.raises(HeaderValueError):
        parse_via(text)


def test_via_from_a_newer_version_keeps_its_protocol() -> None:
    assert parse_via("SIP/7.0/UDP c.example.com").protocol == "SIP/7.0"
    assert str(Via("TCP", "h", 5060)) == "SIP/2.0/TCP h:5060"


@pytest.mark.parametrize(
    "text",
    ["SIP/2.0/UDP 192.0.2.1:5070²", "SIP/2.0/UDP 192.0.2.1:²", "SIP/2.0/UDP 192.0.2.1:٥٠٧٠",
     "SIP/2.0/UDP ١٩٢.0.2.1:5060"],
)  # fmt: skip
def test_via_ports_and_addresses_are_ascii_digits(text: str) -> None:
    with pytest.raises(HeaderValueError):
        parse_via(text)


@pytest.mark.parametrize("uri", ["sip:a@192.0.2.1:٥٠٦٠", "sip:a@192.0.2.1:506²", "sip:a@١.2.3.4"])
def test_uri_ports_and_addresses_are_ascii_digits(uri: str) -> None:
    with pytest.raises(UriParseError):
        parse_uri(uri)
