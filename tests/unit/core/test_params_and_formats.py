import json

import pytest

from kilopbx.api.errors import ApiError
from kilopbx.api.params import optional, parse_port, required, scalar_text
from kilopbx.api.router import parse_body
from kilopbx.api.sessions import Session
from kilopbx.api.system_endpoints import format_uptime
from kilopbx.events.http_post import DeliveryError, build_request
from kilopbx.events.render import render_once
from kilopbx.events.types import BootUp, ConfigChange, Event, ExtensionStatus
from kilopbx.events.versions import EventFormat, event_format_for, is_legacy_version

V2, L0, L2 = EventFormat.V2, EventFormat.PLAIN_LEGACY, EventFormat.WELL_FORMED_LEGACY


def test_scalars_are_normalised_to_strings() -> None:
    assert scalar_text(8260) == "8260"
    assert scalar_text(1.0) == "1"
    assert scalar_text(True) == "yes"
    assert scalar_text(False, bool_style="01") == "0"
    assert scalar_text([1]) is None
    assert optional({"port": 9091}, "port") == "9091"
    assert optional({}, "port") is None


@pytest.mark.parametrize("body", [{}, {"x": ""}, {"x": "  "}, {"x": None}, {"x": {"a": 1}}])
def test_required_missing_or_empty_is_10004(body: dict[str, object]) -> None:
    with pytest.raises(ApiError) as err:
        required(body, "x")
    assert err.value.errno == "10004"


def test_ports() -> None:
    assert parse_port("8260") == 8260
    assert [parse_port(t) for t in ("0", "65536", "-1", "1e3", "", "80a")] == [None] * 6


@pytest.mark.parametrize("text", ["²", "٨٢٦٠", "8²", "８２６０", "8_260", "0" * 5000 + "1"])
def test_ports_are_ascii_digits_only(text: str) -> None:
    assert parse_port(text) is None


@pytest.mark.parametrize(
    ("raw", "errno"),
    [(b"<x/>", "10002"), (b"[]", "20000"), (b"nul", "20000"), (b"\xff", "20000")],
)
def test_parse_body_errors(raw: bytes, errno: str) -> None:
    with pytest.raises(ApiError) as err:
        parse_body(raw)
    assert err.value.errno == errno


def test_parse_body_accepts_empty_and_bom() -> None:
    assert parse_body(b"") == {}
    assert parse_body(b"  \r\n") == {}
    assert parse_body('\ufeff{"a": 1}'.encode()) == {"a": 1}


def test_uptime_format() -> None:
    assert format_uptime(5) == "00:00:05"
    assert format_uptime(86399) == "23:59:59"
    assert format_uptime(4 * 86400 + 6 * 3600 + 15 * 60 + 9) == "4days 06:15:09"


def test_legacy_versions() -> None:
    assert is_legacy_version("1.0.0") and is_legacy_version("1.0.2") and is_legacy_version("")
    assert not is_legacy_version("2.0.0") and not is_legacy_version("3.1")


def _session(**kw: object) -> Session:
    base = dict(
        id=1,
        token="t",
        refresh_token="r",
        client_ip="198.51.100.23",
        port=9091,
        url="",
        urltag="0",
        version="2.0.0",
        created_at=0.0,
        last_activity=0.0,
        persisted_activity=0.0,
    )
    base.update(kw)
    return Session(**base)  # type: ignore[arg-type]


def test_event_targets() -> None:
    assert _session().target_url() == "http://198.51.100.23:9091/"
    assert _session(url="/crm/events").target_url() == "http://198.51.100.23:9091/crm/events"
    absolute = _session(url="203.0.113.40:9091/hooks/pbx", urltag="1")
    assert absolute.target_url() == "http://203.0.113.40:9091/hooks/pbx"
    assert _session(url="https://h.example/p", urltag="1").target_url() == "https://h.example/p"
    assert _session(client_ip="::1").target_url() == "http://[::1]:9091/"


def test_event_request_is_exact() -> None:
    host, port, tls, raw = build_request("http://198.51.100.23:9091/hooks/pbx", b'{"a": 1}')
    assert (host, port, tls) == ("198.51.100.23", 9091, False)
    assert raw == (
        b"POST /hooks/pbx HTTP/1.1\r\nHost: 198.51.100.23:9091\r\nUser-Agent: WebAPI\r\n"
        b"Content-Type: application/json\r\nAccept: application/json\r\nContent-Length: 8\r\n"
        b'Connection: close\r\n\r\n{"a": 1}'
    )
    with pytest.raises(DeliveryError):
        build_request("ftp://x/", b"")


def _texts(event: Event, fmt: EventFormat, serial: str = "S") -> list[str]:
    return render_once(event, serial).texts(fmt)


def test_event_wire_bodies() -> None:
    assert _texts(BootUp(), V2, "SN1") == ['{"event":"BootUp","sn":"SN1"}']
    assert _texts(BootUp(), L0, "SN1") == ['{"action":"BootUp","sn":"SN1"}']
    trunk = json.loads(_texts(ConfigChange("trunk", "Carrier_West", "update"), V2)[0])
    assert list(trunk) == ["event", "type", "trunkname", "operation", "sn"]
    ext = _texts(ExtensionStatus("2102", "Registered", "10.0.0.5"), V2)
    assert [json.loads(text) for text in ext] == [
        {
            "event": "ExtensionStatus",
            "extension": "2102",
            "status": "Registered",
            "registeredIP": "10.0.0.5",
            "sn": "S",
        }
    ]
    gone = json.loads(_texts(ExtensionStatus("2102", "Unregistered"), V2)[0])
    assert "registeredIP" not in gone
    for fmt in (L0, L2):
        legacy = _texts(ExtensionStatus("2102", "Ringing", "10.0.0.5"), fmt)
        assert legacy == [
            '{"action":"ExtensionStatus","extension":"2102","status":"Ringing","sn":"S"}'
        ]


def test_event_format_follows_the_login_version() -> None:
    for version in ("", "1", "1.0.0", "1.0.1", " 1.0.1 "):
        assert event_format_for(version) is L0, version
    for version in ("1.0.2", "1.0.10", "1.1", "1.1.0", "1.9"):
        assert event_format_for(version) is L2, version
    for version in ("2.0.0", "2", "3.1", "banana"):
        assert event_format_for(version) is V2, version


def test_trailing_comma_is_tolerated_but_not_inside_strings() -> None:
    assert parse_body(b'{"id": "8", "name": "a,}",}') == {"id": "8", "name": "a,}"}
    assert parse_body(b'{"ids": [1, 2, ], }') == {"ids": [1, 2]}
    assert parse_body(b'{"q": "say \\", }"  ,  }') == {"q": 'say ", }'}
    with pytest.raises(ApiError):
        parse_body(b'{"a": 1,, }')


def test_trailing_comma_scan_is_linear_on_hostile_input() -> None:
    # thousands of unterminated quotes made the old regex quadratic (minutes of CPU)
    with pytest.raises(ApiError) as err:
        parse_body(b'{"' + b'\\"' * 30_000)
    assert err.value.errno == "20000"
    with pytest.raises(ApiError):
        parse_body(b"{" + b",   " * 16_000)
    # above the limit the second chance is not offered at all
    with pytest.raises(ApiError):
        parse_body(b'{"a": "' + b"x" * 70_000 + b'",}')


def test_event_request_escapes_what_the_application_gave() -> None:
    _, _, _, raw = build_request("http://127.0.0.1:9/€vents?a=b c", b"{}")
    assert raw.startswith(b"POST /%E2%82%ACvents?a=b%20c HTTP/1.1\r\n")
    host, _, _, raw = build_request("http://b\u00fccher.example:9/x%20y", b"{}")
    assert host == "xn--bcher-kva.example"
    assert raw.startswith(b"POST /x%20y HTTP/1.1\r\nHost: xn--bcher-kva.example:9\r\n")
    with pytest.raises(DeliveryError):
        build_request("http://[::1/x", b"{}")
