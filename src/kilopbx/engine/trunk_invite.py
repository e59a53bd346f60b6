"""The INVITE a call sends a provider: its Request-URI, caller ID and credentials.

Caller ID (30-trunks.md and 31-routes.md, outbound step 5): the DOD bound to the
caller on this trunk, else the route's caller ID, else the trunk's, else the caller's
own extension number and name. It goes in From (whose user part is the trunk's
``from_user`` when the provider wants its account there), in P-Asserted-Identity
(RFC 3325) and in Remote-Party-ID (the older draft many providers still read), each
as the trunk's ``identity_headers`` say. A caller that hides its number (RFC 3323) sends
``Privacy: id`` and an anonymous From; P-Asserted-Identity still tells the provider
who pays, and Remote-Party-ID says ``privacy=full``. A
401 or 407 is answered once with the trunk's auth name and password (MD5 or
SHA-256, whichever the provider offers first that we know). With ``[calls]
session_expires`` set, the INVITE offers an RFC 4028 session timer as it does to
phones; a 422 retry (``trunk_branch``) carries credentials again when the provider
challenged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kilopbx.engine.directory import SipAccount
from kilopbx.engine.routing import OutboundChoice
from kilopbx.engine.session_timer import offer_headers
from kilopbx.engine.trunking import TrunkProfile, TrunkTarget
from kilopbx.sip.digest import DigestError, build_authorization, parse_challenge
from kilopbx.sip.invite_client import build_invite, repeated
from kilopbx.sip.message import SipRequest, SipResponse
from kilopbx.sip.transport import Destination

if TYPE_CHECKING:
    from kilopbx.engine.call_runtime import CallRuntime
    from kilopbx.engine.calls import CallEngine

ALGORITHMS = ("MD5", "SHA-256")
NAME_SAFE = str.maketrans("", "", '"\\\r\n')
ANONYMOUS = '"Anonymous" <sip:anonymous@anonymous.invalid>'  # RFC 3323 section 4.1.1.3


def caller_id(
    runtime: CallRuntime, choice: OutboundChoice, profile: TrunkProfile
) -> tuple[str, str]:
    """The (number, name) the provider is given for this caller: the DOD or route's,
    else the trunk's, else the extension's own caller ID (``callerid``, which is its
    number unless set) with its name."""
    return caller_id_of(runtime.caller_account, choice, profile)


def caller_id_of(
    caller: SipAccount, choice: OutboundChoice, profile: TrunkProfile
) -> tuple[str, str]:
    """``caller_id`` for the extension ``caller`` (a call's caller, or the member
    that dials out of a call: a transferor, an inviter)."""
    number, name = choice.caller_id_on(profile.name)
    if not number and profile.caller_id_number:
        number, name = profile.caller_id_number, profile.caller_id_name
    if not number:
        number, name = caller.caller_id or caller.number, caller.display_name
    return number, name.translate(NAME_SAFE)[:63]


def _address(user: str, host: str, name: str = "") -> str:
    shown = f'"{name}" ' if name else ""
    return f"{shown}<sip:{user}@{host}>"


def trunk_invite(
    runtime: CallRuntime,
    choice: OutboundChoice,
    profile: TrunkProfile,
    target: TrunkTarget,
    sdp: bytes,
) -> SipRequest:
    return outside_invite(
        runtime.engine, runtime.caller_account, runtime.leg_a.hops, choice, profile, target, sdp,
        session_expires=runtime.engine.session_expires,
    )  # fmt: skip


def outside_invite(
    engine: CallEngine,
    caller: SipAccount,
    hops: int,
    choice: OutboundChoice,
    profile: TrunkProfile,
    target: TrunkTarget,
    sdp: bytes,
    *,
    reliable: bool = True,
    session_expires: int = 0,
) -> SipRequest:
    """The INVITE for ``caller``'s call to ``choice.number`` through ``target`` of
    ``profile``; ``reliable``: offer reliable provisional responses (RFC 3262),
    for a leg that PRACKs them; ``session_expires``: offer a session timer (for a
    leg that keeps one)."""
    domain = profile.domain or target.host
    host = domain if domain != target.host or target.port == 5060 else f"{domain}:{target.port}"
    if ":" in target.host and domain == target.host:  # an IPv6 literal
        host = f"[{target.host}]:{target.port}"
    number, name = caller_id_of(caller, choice, profile)
    identity = _address(number, host, name)
    destination = Destination(target.transport, target.host, target.port)
    hidden = caller.calls.hide_number
    from_address = _address(profile.from_user or number, host, name)
    headers = [("Max-Forwards", str(hops))]
    if session_expires:  # RFC 4028: the provider's 2xx picks the refresher
        headers += offer_headers(session_expires, also="100rel" if reliable else "")
    elif reliable:
        headers.append(("Supported", "100rel"))
    if hidden:
        from_address = ANONYMOUS
        headers.append(("Privacy", "id"))
    if "pai" in profile.identity_headers:
        headers.append(("P-Asserted-Identity", identity))
    if "rpid" in profile.identity_headers:
        privacy = "full" if hidden else "off"
        headers.append(
            ("Remote-Party-ID", f"{identity};party=calling;screen=yes;privacy={privacy}")
        )
    return build_invite(
        f"sip:{choice.number}@{host}",
        from_address=from_address,
        to_address=f"<sip:{choice.number}@{host}>",
        contact=engine.sip.contact(destination),
        body=sdp,
        headers=headers,
    )


def authorised(
    request: SipRequest, response: SipResponse, profile: TrunkProfile, *, nc: int = 1
) -> SipRequest | None:
    """``request`` again (next CSeq) with the credentials ``response`` (401/407) asks
    for; None when it asks for none we can give."""
    credentials = _credentials(request, response, profile, nc)
    if credentials is None:
        return None
    again = repeated(request)
    again.headers.set(*credentials)
    return again


def reauthorised(
    request: SipRequest, response: SipResponse, profile: TrunkProfile, nc: int
) -> SipRequest:
    """``request`` (already a new transaction, a 422's retry) with the credentials for
    the challenge ``response`` answered earlier, counted ``nc``: the provider that
    challenged the first INVITE gets credentials on the next one too."""
    credentials = _credentials(request, response, profile, nc)
    if credentials is not None:
        request.headers.set(*credentials)
    return request


def _credentials(
    request: SipRequest, response: SipResponse, profile: TrunkProfile, nc: int
) -> tuple[str, str] | None:
    """The (header, value) answering the challenge of ``response`` for ``request``."""
    if response.status not in (401, 407) or not profile.password:
        return None
    www = response.status == 401
    field = "WWW-Authenticate" if www else "Proxy-Authenticate"
    challenge = None
    for value in response.headers.get_all(field):
        try:
            offered = parse_challenge(value)
        except DigestError:
            continue
        if offered.algorithm.upper() in ALGORITHMS:
            challenge = offered
            break
    if challenge is None:
        return None
    answer = build_authorization(
        challenge,
        method="INVITE",
        uri=request.uri,
        username=profile.auth_name or profile.username,
        password=profile.password,
        nc=nc,
    )
    return ("Authorization" if www else "Proxy-Authorization", answer)
