"""Which dialog an incoming request, ACK or response belongs to, and what a request that
claims a dialog we do not have is answered (RFC 3261 §12.2.2).

Sans-IO: the registry holds entries (anything with a ``dialog``: the stack stores the
asyncio ``SipDialog`` wrappers of ``dialog_user``) by dialog identity, and gives
verdicts; the stack carries them out.
"""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar

from kilopbx.sip.dialog import Dialog, DialogId, incoming_request_dialog_id, uac_response_dialog_id
from kilopbx.sip.message import SipRequest, SipResponse
from kilopbx.sip.request_checks import Rejection
from kilopbx.sip.transport import Source

# Requests with a To tag that still never belong to a dialog: REGISTER (some phones
# keep the registrar's tag) and CANCEL (it follows its INVITE's transaction, §9.2).
OUTSIDE_DIALOGS = frozenset({"REGISTER", "CANCEL", "ACK"})
# Requests that only exist inside a dialog (RFC 3261 §15, RFC 3262, RFC 3311):
# without a To tag they name no dialog at all.
INSIDE_DIALOGS_ONLY = frozenset({"BYE", "PRACK", "UPDATE"})

NO_DIALOG = Rejection(481)
# §12.2.2: a CSeq lower than the last one seen in the dialog.
OUT_OF_ORDER = Rejection(500)


class HasDialog(Protocol):
    @property
    def dialog(self) -> Dialog: ...


Entry = TypeVar("Entry", bound=HasDialog)


class DialogRegistry(Generic[Entry]):
    """Live dialogs by (Call-ID, local tag, remote tag)."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[DialogId, Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, entry: Entry) -> None:
        """Register ``entry`` under its dialog's identity; a ValueError if another
        entry holds that identity (two owners for one dialog is a bug)."""
        key = entry.dialog.id
        held = self._entries.get(key)
        if held is not None and held is not entry:
            raise ValueError(f"dialog {key} is already registered")
        self._entries[key] = entry

    def remove(self, entry: Entry) -> None:
        key = entry.dialog.id
        if self._entries.get(key) is entry:
            del self._entries[key]

    def get(self, dialog_id: DialogId) -> Entry | None:
        return self._entries.get(dialog_id)

    def entries(self) -> list[Entry]:
        return list(self._entries.values())

    def route_request(self, request: SipRequest, source: Source) -> Entry | Rejection | None:
        """The entry whose dialog an incoming request (not ACK) belongs to.

        None: the request is outside any dialog (no To tag, or a method that never is
        in one) and goes to the application as a new request. BYE, PRACK and UPDATE
        without a To tag name no dialog: 481. A Rejection: it names a
        dialog we do not have (481) or repeats an old CSeq (500). Otherwise the
        dialog has accounted for it (CSeq, target refresh, flow).
        """
        method = request.method
        if method in OUTSIDE_DIALOGS:
            return None
        if request.to.tag is None:
            return NO_DIALOG if method in INSIDE_DIALOGS_ONLY else None
        entry = self._entries.get(incoming_request_dialog_id(request))
        if entry is None:
            return NO_DIALOG
        if not entry.dialog.receive_request(request, source):
            return OUT_OF_ORDER
        return entry

    def route_ack(self, ack: SipRequest, source: Source) -> Entry | None:
        """The entry whose dialog an ACK for a 2xx belongs to; None when it is for no
        dialog of ours (it is then dropped: an ACK is never answered)."""
        if ack.to.tag is None:
            return None
        entry = self._entries.get(incoming_request_dialog_id(ack))
        if entry is not None:
            entry.dialog.receive_request(ack, source)
        return entry

    def match_response(self, response: SipResponse) -> Entry | None:
        """The entry whose dialog a response to one of our requests belongs to."""
        return self._entries.get(uac_response_dialog_id(response))
