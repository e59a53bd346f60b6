"""The INVITE to a provider: credentials answering 401/407, caller ID precedence, and
which failures move a call on to the next trunk."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from kilopbx.engine.directory import SipAccount
from kilopbx.engine.routing import OutboundChoice
from kilopbx.engine.trunk_branch import fails_over
from kilopbx.engine.trunk_invite import authorised, caller_id
from kilopbx.engine.trunking import TrunkProfile
from kilopbx.sip.digest import compute_ha1, compute_response, parse_authorization
from kilopbx.sip.headers import Headers
from kilopbx.sip.invite_client import build_invite
from kilopbx.sip.message import SipResponse


def profile(**fields: Any) -> TrunkProfile:
    values: dict[str, Any] = {
        "name": "ProvA", "kind": "register", "domain": "provider.test", "username": "8801",
        "auth_name": "", "password": "s3cret", "from_user": "", "caller_id_number": "",
        "caller_id_name": "", "codecs": ("ulaw",), "dtmf_mode": "rfc4733", "max_channels": 0,
    }  # fmt: skip
    values.update(fields)
    return TrunkProfile(**values)


def challenge(status: int, *values: str) -> SipResponse:
    field = "WWW-Authenticate" if status == 401 else "Proxy-Authenticate"
    return SipResponse(status, "Auth", Headers([(field, value) for value in values]))


def invite() -> Any:
    request = build_invite(
        "sip:0044123@provider.test",
        from_address="<sip:2001@provider.test>",
        to_address="<sip:0044123@provider.test>",
        contact="<sip:pbx@127.0.0.1>",
        body=b"v=0\r\n",
    )
    request.headers.add("Via", "SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKold")
    return request


def test_a_challenge_is_answered_with_the_trunks_credentials() -> None:
    request = invite()
    for status, field in ((401, "Authorization"), (407, "Proxy-Authorization")):
        offered = (
            'Digest realm="p", nonce="n1", algorithm=SHA-512-256, qop="auth"',
            'Digest realm="p", nonce="n1", algorithm=MD5, qop="auth"',
        )
        retry = authorised(request, challenge(status, *offered), profile(auth_name="auth1"))
        assert retry is not None
        assert retry.cseq[0] == request.cseq[0] + 1 and "Via" not in retry.headers
        assert retry.headers.get("Call-ID") == request.headers.get("Call-ID")
        assert retry.headers.get("From") == request.headers.get("From")  # same tag
        credentials = parse_authorization(retry.headers.get(field) or "")
        assert (credentials.username, credentials.algorithm) == ("auth1", "MD5")
        expected = compute_response(
            ha1=compute_ha1("auth1", "p", "s3cret"), algorithm="MD5", method="INVITE",
            uri=request.uri, nonce="n1", qop="auth", nc=credentials.nc,
            cnonce=credentials.cnonce,
        )  # fmt: skip
        assert credentials.response == expected
    assert request.headers.get("Via") is not None  # the original is left alone


def test_challenges_we_cannot_answer_end_the_attempt() -> None:
    request = invite()
    good = 'Digest realm="p", nonce="n"'
    assert authorised(request, challenge(407, good), profile(password="")) is None
    assert authorised(request, challenge(407, 'Basic realm="p"'), profile()) is None
    assert authorised(request, challenge(407, "Digest nonsense"), profile()) is None
    assert authorised(request, challenge(401), profile()) is None
    assert authorised(request, SipResponse(403, "No", Headers()), profile()) is None
    sha = authorised(request, challenge(401, good + ", algorithm=SHA-256"), profile())
    assert sha is not None and "SHA-256" in (sha.headers.get("Authorization") or "")


def test_caller_id_precedence() -> None:
    caller = SipAccount("2001", "2001", "x", display_name='Al "the" Pal')
    runtime: Any = SimpleNamespace(caller_account=caller)
    plain = OutboundChoice("r", "0044", ("ProvA",))
    assert caller_id(runtime, plain, profile()) == ("2001", "Al the Pal")
    trunk = profile(caller_id_number="4402999", caller_id_name="Main")
    assert caller_id(runtime, plain, trunk) == ("4402999", "Main")
    route = OutboundChoice("r", "0044", ("ProvA",), caller_id_number="4402555")
    assert caller_id(runtime, route, trunk) == ("4402555", "")
    dod = OutboundChoice(
        "r", "0044", ("ProvB", "ProvA"), caller_id_number="4402555",
        dod=(("ProvB", "111", "B"), ("ProvA", "4402100", "Desk")),
    )  # fmt: skip
    assert caller_id(runtime, dod, trunk) == ("4402100", "Desk")


def test_which_failures_try_the_next_trunk() -> None:
    assert all(fails_over(s) for s in (408, 500, 502, 503, 504, 580))
    assert not any(fails_over(s) for s in (404, 480, 484, 486, 487, 603, 401, 407))


def test_channels_in_use_count_live_trunk_legs_of_other_calls() -> None:
    from kilopbx.engine.call_model import Channel, ChannelState, Role
    from kilopbx.engine.trunk_branch import channels_in_use

    def call(*channels: Channel, ended: bool = False) -> Any:
        return SimpleNamespace(
            machine=SimpleNamespace(ended=ended),
            call=SimpleNamespace(channels=lambda: list(channels)),
        )

    engine = SimpleNamespace(calls={})
    mine = call(Channel("m", Role.CALLEE, "1", trunk="T"))
    engine.calls = {
        "me": mine,
        "in": call(Channel("a", Role.CALLER, "06", trunk="T"), Channel("b", Role.CALLEE, "2001")),
        "out": call(Channel("c", Role.CALLEE, "00", trunk="T")),
        "gone": call(Channel("d", Role.CALLEE, "00", ChannelState.ENDED, trunk="T")),
        "other": call(Channel("e", Role.CALLEE, "00", trunk="U")),
        "over": call(Channel("f", Role.CALLEE, "00", trunk="T"), ended=True),
    }
    assert channels_in_use(engine, "T", mine) == 2  # type: ignore[arg-type]
    assert channels_in_use(engine, "U", mine) == 1  # type: ignore[arg-type]
    assert channels_in_use(engine, "T") == 3  # type: ignore[arg-type]
