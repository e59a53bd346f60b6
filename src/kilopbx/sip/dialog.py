"""Sans-IO dialog state (RFC 3261 §12): identity, route set, remote target and CSeq
spaces, and the in-dialog requests built from them.

A Dialog is one side's view of one dialog, so a B2BUA holds two per call (one as
UAS towards the caller, one as UAC towards the callee). Sending and timers are
the caller's business; nothing here touches a socket or a clock.

Besides the RFC's state a dialog remembers its *flow*: the transport address the
peer's messages came from (or the INVITE went to). With no route set, in-dialog
requests go there rather than to the Contact, because a phone behind NAT puts a
private address in its Contact and a TCP phone can only be reached over its own
connection (the idea of RFC 5626 §5.3, without its registration machinery).
Matching and dispatch live in ``dialog_registry``; the asyncio side in ``dialog_user``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple

from kilopbx.sip.address import NameAddr, parse_name_addr
from kilopbx.sip.headers import Headers
from kilopbx.sip.message import SipRequest, SipResponse
from kilopbx.sip.transport import Destination, Source, destination_for_uri
from kilopbx.sip.uri import SipUri, parse_uri

# Methods whose request and 2xx may change the remote target (RFC 3261 §12.2, RFC 3311,
# RFC 3515, RFC 6665).
TARGET_REFRESH_METHODS = frozenset({"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER"})
# Requests that need a Contact so the peer can reach us later in the dialog.
CONTACT_METHODS = TARGET_REFRESH_METHODS
MAX_CSEQ = 2**31 - 1


class DialogId(NamedTuple):
    call_id: str
    local_tag: str
    remote_tag: str


class DialogState(Enum):
    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


class DialogError(ValueError):
    """A message cannot create or update a dialog (no tag, no Contact, ...)."""


def incoming_request_dialog_id(request: SipRequest) -> DialogId:
    """The dialog a request received by us belongs to: our tag is in To (§12.2.2)."""
    return DialogId(request.call_id, request.to.tag or "", request.from_.tag or "")


def uac_response_dialog_id(response: SipResponse) -> DialogId:
    """The dialog a response to our request belongs to: our tag is in From."""
    return DialogId(response.call_id, response.from_.tag or "", response.to.tag or "")


def _without_tag(address: NameAddr) -> NameAddr:
    params = {name: value for name, value in address.params.items() if name != "tag"}
    return NameAddr(address.display_name, address.uri, params)


def _contact_target(message: SipRequest | SipResponse) -> str | None:
    contacts = message.contacts
    return str(contacts[0].uri) if contacts else None


def _initial_cseq() -> int:
    # §8.1.1.5: any value below 2**31; a small random start leaves room to count up.
    return secrets.randbelow(2**16) + 1


@dataclass(slots=True)
class Dialog:
    call_id: str
    local_tag: str
    remote_tag: str
    local_address: NameAddr  # our From (as UAC) / To (as UAS), without tag
    remote_address: NameAddr
    remote_target: str  # URI from the peer's latest Contact
    route_set: list[str] = field(default_factory=list)  # name-addr values, in send order
    local_cseq: int | None = None
    remote_cseq: int | None = None
    state: DialogState = DialogState.CONFIRMED
    local_contact: str | None = None  # our Contact header value for target refreshes
    is_uac: bool = True
    secure: bool = False  # sips: every hop must be TLS (§12.1.1); we have no TLS yet
    flow: Destination | None = None  # where the peer's messages come from (see module doc)
    # From and To as last rendered, with the address objects and tags they came from:
    # every in-dialog request repeats them (addresses are read-only once in a dialog).
    _rendered: tuple[NameAddr, str, NameAddr, str, str, str] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @property
    def id(self) -> DialogId:
        return DialogId(self.call_id, self.local_tag, self.remote_tag)

    # --- creation (§12.1) ---

    @classmethod
    def from_uac_response(
        cls,
        request: SipRequest,
        response: SipResponse,
        *,
        local_contact: str | None = None,
        flow: Destination | None = None,
    ) -> Dialog:
        """The dialog a 2xx or a tagged 1xx to our ``request`` creates (§12.1.2).

        ``flow``: where the request went, when in-dialog requests should go there too
        (the peer itself, not a proxy that left the path)."""
        remote_tag = response.to.tag
        if not remote_tag:
            raise DialogError("response without a To tag cannot create a dialog")
        local = request.from_
        if not local.tag:
            raise DialogError("request without a From tag cannot create a dialog")
        target = _contact_target(response)
        if target is None:
            raise DialogError("response without Contact cannot create a dialog")
        return cls(
            call_id=request.call_id,
            local_tag=local.tag,
            remote_tag=remote_tag,
            local_address=_without_tag(local),
            remote_address=_without_tag(response.to),
            remote_target=target,
            route_set=list(reversed(response.headers.get_all("Record-Route"))),
            local_cseq=request.cseq[0],
            remote_cseq=None,
            state=DialogState.EARLY if response.status < 200 else DialogState.CONFIRMED,
            local_contact=local_contact or request.headers.get("Contact"),
            is_uac=True,
            secure=request.uri.lower().startswith("sips:"),
            flow=flow,
        )

    @classmethod
    def from_uas_request(
        cls,
        request: SipRequest,
        local_tag: str,
        *,
        local_contact: str | None = None,
        early: bool = False,
        source: Source | None = None,
    ) -> Dialog:
        """The dialog our response with To tag ``local_tag`` creates (§12.1.1);
        ``source`` is where the request came from (the dialog's flow)."""
        remote = request.from_
        if not remote.tag:
            raise DialogError("request without a From tag cannot create a dialog")
        target = _contact_target(request)
        if target is None:
            raise DialogError("request without Contact cannot create a dialog")
        return cls(
            call_id=request.call_id,
            local_tag=local_tag,
            remote_tag=remote.tag,
            local_address=_without_tag(request.to),
            remote_address=_without_tag(remote),
            remote_target=target,
            route_set=list(request.headers.get_all("Record-Route")),
            local_cseq=None,
            remote_cseq=request.cseq[0],
            state=DialogState.EARLY if early else DialogState.CONFIRMED,
            local_contact=local_contact,
            is_uac=False,
            secure=request.uri.lower().startswith("sips:"),
            flow=source,
        )

    # --- updates ---

    def confirm(self, response: SipResponse | None = None) -> None:
        """Early → confirmed. As UAC pass the 2xx: it refreshes target and route set
        (§13.2.2.4)."""
        if self.state is DialogState.TERMINATED:
            return
        self.state = DialogState.CONFIRMED
        if response is not None and self.is_uac:
            self.route_set = list(reversed(response.headers.get_all("Record-Route")))
            target = _contact_target(response)
            if target is not None:
                self.remote_target = target

    def terminate(self) -> None:
        self.state = DialogState.TERMINATED

    def receive_request(self, request: SipRequest, source: Source | None = None) -> bool:
        """Account for an in-dialog request from the peer (§12.2.2), received from
        ``source`` (which becomes the flow: a NAT binding may have moved).

        False when its CSeq is lower than one already seen: the caller answers
        500 and the dialog state is unchanged. ACK and CANCEL reuse a number and
        are always accepted.
        """
        method = request.method
        number = request.cseq[0]
        if method not in ("ACK", "CANCEL"):
            if self.remote_cseq is not None and number < self.remote_cseq:
                return False
            self.remote_cseq = number
        if source is not None and self.flow is not None:
            self.flow = source
        if method in TARGET_REFRESH_METHODS:
            target = _contact_target(request)
            if target is not None:
                self.remote_target = target
        return True

    def receive_response(self, request: SipRequest, response: SipResponse) -> None:
        """Account for a response to our in-dialog ``request``: a 2xx to a target
        refresh moves the remote target (§12.2.1.2)."""
        if 200 <= response.status < 300 and request.method in TARGET_REFRESH_METHODS:
            target = _contact_target(response)
            if target is not None:
                self.remote_target = target

    # --- building requests (§12.2.1.1) ---

    def next_cseq(self) -> int:
        number = _initial_cseq() if self.local_cseq is None else self.local_cseq + 1
        if number > MAX_CSEQ:
            raise DialogError("local CSeq space exhausted")
        self.local_cseq = number
        return number

    def create_request(
        self,
        method: str,
        *,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        cseq: int | None = None,
    ) -> SipRequest:
        """A request within this dialog (BYE, re-INVITE, INFO, UPDATE, REFER, ...).

        The transport adds Via. ``cseq`` overrides the next local number (the ACK
        for a 2xx and CANCEL reuse the INVITE's).
        """
        number = self.next_cseq() if cseq is None else cseq
        uri, routes = self._request_uri_and_routes()
        from_value, to_value = self._from_and_to()
        fields = [("route", "Route", route) for route in routes]
        fields += [
            ("max-forwards", "Max-Forwards", "70"),
            ("from", "From", from_value),
            ("to", "To", to_value),
            ("call-id", "Call-ID", self.call_id),
            ("cseq", "CSeq", f"{number} {method}"),
        ]
        if method in CONTACT_METHODS and self.local_contact:
            fields.append(("contact", "Contact", self.local_contact))
        field_of = Headers.field
        fields.extend(field_of(name, value) for name, value in headers)
        return SipRequest(method, uri, Headers.from_parsed(fields), body)

    def _from_and_to(self) -> tuple[str, str]:
        """From and To of our next request, rendered once per dialog and tag pair."""
        rendered = self._rendered
        local, remote = self.local_address, self.remote_address
        local_tag, remote_tag = self.local_tag, self.remote_tag
        if (
            rendered is not None
            and rendered[0] is local
            and rendered[1] == local_tag
            and rendered[2] is remote
            and rendered[3] == remote_tag
        ):
            return rendered[4], rendered[5]
        from_value = str(local.with_tag(local_tag))
        to_value = str(remote.with_tag(remote_tag))
        self._rendered = (local, local_tag, remote, remote_tag, from_value, to_value)
        return from_value, to_value

    def create_ack(
        self, invite_cseq: int, *, body: bytes = b"", headers: Iterable[tuple[str, str]] = ()
    ) -> SipRequest:
        """The ACK for a 2xx to the INVITE with CSeq ``invite_cseq`` (§13.2.2.4)."""
        return self.create_request("ACK", headers=headers, body=body, cseq=invite_cseq)

    def next_hop(self) -> SipUri:
        """Where in-dialog requests go first: the first route, else the remote target
        (§12.2.1.1 with §8.1.2). Raises DialogError for a non-SIP target."""
        text = str(parse_name_addr(self.route_set[0]).uri) if self.route_set else None
        uri = parse_uri(text if text is not None else self.remote_target)
        if not isinstance(uri, SipUri):
            raise DialogError(f"cannot route to {uri}")
        return uri

    def destination(self, flow_usable: bool = True) -> Destination:
        """Where the next in-dialog request goes: the first route when there is a route
        set, else the flow when there is one and ``flow_usable`` (the caller's word
        that, say, its TCP connection is still open), else the remote target.
        Raises DialogError for a non-SIP target."""
        if not self.route_set and self.flow is not None and flow_usable:
            return self.flow
        return destination_for_uri(self.next_hop())

    def _request_uri_and_routes(self) -> tuple[str, list[str]]:
        route_set = self.route_set
        if not route_set:
            return self.remote_target, []
        first = parse_name_addr(route_set[0])
        if isinstance(first.uri, SipUri) and first.uri.loose_route:
            return self.remote_target, list(route_set)
        # Strict router (RFC 2543): it goes in the Request-URI, the target at the end.
        return str(first.uri), [*route_set[1:], f"<{self.remote_target}>"]
