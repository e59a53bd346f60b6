"""The INVITE to a provider: credentials answering 401/407, the INVITE sent again
after a 422 (with credentials again), caller ID precedence, and which failures move
a call on to the next trunk."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from kilopbx.engine.directory import SipAccount
from kilopbx.engine.routing import OutboundChoice
from kilopbx.engine.session_timer import offer_headers
from kilopbx.engine.trunk_branch import Retries, fails_over
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


def timed_invite() -> Any:
    request = invite()
    for name, value in offer_headers(90, also="100rel"):
        request.headers.add(name, value)
    return request


def too_small(min_se: str) -> SipResponse:
    return SipResponse(422, "Session Interval Too Small", Headers([("Min-SE", min_se)]))


def test_a_422_after_a_challenge_is_retried_with_fresh_credentials() -> None:
    """401, then 422 (RFC 4028 §7.4): the third INVITE asks for the provider's minimum
    and answers the same challenge again, counted on (nc 2), next CSeq each time."""
    retries, first = Retries(), timed_invite()
    offered = challenge(401, 'Digest realm="p", nonce="n1", algorithm=MD5, qop="auth"')
    second = retries.next_request(first, offered, profile())
    assert second is not None and second.headers.get("Authorization")
    third = retries.next_request(second, too_small("120"), profile())
    assert third is not None
    assert (third.headers.get("Session-Expires"), third.headers.get("Min-SE")) == ("120", "120")
    assert [r.cseq[0] - first.cseq[0] for r in (second, third)] == [1, 2]
    for same in ("Call-ID", "From"):
        assert first.headers.get(same) == second.headers.get(same) == third.headers.get(same)
    before = parse_authorization(second.headers.get("Authorization") or "")
    after = parse_authorization(third.headers.get("Authorization") or "")
    assert (before.nc, after.nc, after.nonce) == ("00000001", "00000002", "n1")
    expected = compute_response(
        ha1=compute_ha1("8801", "p", "s3cret"), algorithm="MD5", method="INVITE",
        uri=first.uri, nonce="n1", qop="auth", nc=after.nc, cnonce=after.cnonce,
    )  # fmt: skip
    assert after.response == expected
    # a new challenge to that one is answered; a second 422 is not taken
    fourth = retries.next_request(third, challenge(401, 'Digest realm="p", nonce="n2"'), profile())
    assert fourth is not None and fourth.headers.get("Session-Expires") == "120"
    assert retries.next_request(fourth, too_small("150"), profile()) is None


def test_a_challenge_right_after_our_credentials_ends_the_attempt() -> None:
    """A wrong password: the provider challenges the INVITE that answered its
    challenge; answering again would only repeat it."""
    retries, first = Retries(), timed_invite()
    offered = challenge(407, 'Digest realm="p", nonce="n1"')
    second = retries.next_request(first, offered, profile())
    assert second is not None
    assert retries.next_request(second, offered, profile()) is None


def test_a_422_without_a_challenge_carries_no_credentials() -> None:
    retries, first = Retries(), timed_invite()
    again = retries.next_request(first, too_small("1800"), profile())
    assert again is not None and again.headers.get("Session-Expires") == "1800"
    assert "Authorization" not in again.headers and "Proxy-Authorization" not in again.headers
    busy = SipResponse(486, "Busy Here", Headers())
    assert Retries().next_request(first, busy, profile()) is None
