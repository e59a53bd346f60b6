"""Transaction identities (§17.1.3, §17.2.3, §9.2) and the requests a client derives
from one it sent: the ACK for a non-2xx final response (§17.1.1.3) and CANCEL (§9.1)."""

from __future__ import annotations

from kilopbx.sip.headers import Headers, split_list_value
from kilopbx.sip.message import SipMessage, SipRequest, SipResponse
from kilopbx.sip.via import MAGIC_COOKIE, Via

# (branch, CSeq method): a response belongs to the client transaction that sent the
# request with that top-Via branch, for that method (CANCEL shares the INVITE's branch).
ClientKey = tuple[str, str]
# RFC 3261 peers: (branch, sent-by host, sent-by port, method with ACK read as INVITE).
# RFC 2543 peers: ("2543", Request-URI, From tag, Call-ID, CSeq number, sent-by, method).
ServerKey = tuple[str | int | None, ...]


def client_key(message: SipMessage) -> ClientKey:
    """Key of the client transaction a request opens or a response answers.

    Raises HeaderValueError (from the message views) when Via or CSeq is unusable.
    """
    via = message.top_via
    branch = via.branch if via is not None else None
    return (branch or "", message.cseq[1])


def server_key(
    request: SipRequest, *, method: str | None = None, top_via: Via | None = None
) -> ServerKey:
    """Key matching a request (and its retransmissions) to a server transaction.

    ``method`` overrides the request's method; CANCEL matching (§9.2) looks up the
    INVITE transaction with ``method="INVITE"``. ``top_via`` saves parsing it again
    when the caller already has it.
    """
    if method is None:
        method = request.method
    if method == "ACK":
        method = "INVITE"  # the ACK to a non-2xx belongs to the INVITE's transaction
    via = top_via if top_via is not None else request.top_via
    if via is None:
        return ("", None, None, method)
    branch = via.branch
    if branch is not None and branch.startswith(MAGIC_COOKIE):
        return (branch, via.host.lower(), via.port, method)
    # §17.2.3 RFC 2543 fallback: an ACK to a non-2xx repeats the INVITE's Request-URI,
    # From tag, Call-ID, CSeq number and top Via; the To tag is left out because the
    # INVITE had none and the ACK carries ours.
    return (
        "2543",
        request.uri,
        request.from_.tag,
        request.call_id,
        request.cseq[0],
        f"{via.sent_by.lower()};{branch or ''}",
        method,
    )


def cancel_target_key(cancel: SipRequest) -> ServerKey:
    """Key of the INVITE server transaction a CANCEL refers to (§9.2)."""
    return server_key(cancel, method="INVITE")


def build_ack_for_non_2xx(request: SipRequest, response: SipResponse) -> SipRequest:
    """The hop-by-hop ACK for a 3xx-6xx answer to ``request`` (§17.1.1.3)."""
    headers = Headers()
    via_lines = request.headers.get_lines("Via")
    if via_lines:
        headers.add("Via", split_list_value(via_lines[0])[0])
    for route in request.headers.get_lines("Route"):
        headers.add("Route", route)
    headers.add("Max-Forwards", "70")
    for name in ("From", "Call-ID"):
        value = request.headers.get(name)
        if value is not None:
            headers.add(name, value)
    to = response.headers.get("To") or request.headers.get("To")
    if to is not None:
        headers.add("To", to)
    headers.add("CSeq", f"{request.cseq[0]} ACK")
    return SipRequest("ACK", request.uri, headers)


def build_cancel(request: SipRequest) -> SipRequest:
    """A CANCEL for a pending ``request`` (§9.1): same branch, so it meets the same server."""
    headers = Headers()
    via_lines = request.headers.get_lines("Via")
    if via_lines:
        headers.add("Via", split_list_value(via_lines[0])[0])
    for route in request.headers.get_lines("Route"):
        headers.add("Route", route)
    headers.add("Max-Forwards", "70")
    for name in ("From", "To", "Call-ID"):
        value = request.headers.get(name)
        if value is not None:
            headers.add(name, value)
    headers.add("CSeq", f"{request.cseq[0]} CANCEL")
    return SipRequest("CANCEL", request.uri, headers)
