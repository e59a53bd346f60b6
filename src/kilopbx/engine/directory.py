"""The SIP account directory: what the registrar (and later call routing) needs to know
about each extension, in memory, for lookups on the per-message path.

The extensions service owns the data and keeps this directory current on every change
(add, update, delete, and a full load at start-up); the registrar only reads it and
listens for changes so it can drop registrations that no longer fit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

# how many extensions one PBX holds; 21-extensions proposes 1,200: about a thousand
# users plus headroom (deviceinfo shows "count/capacity")
MAX_EXTENSIONS = 1200


@dataclass(frozen=True)
class Forward:
    """Where calls to an extension go instead: ``kind`` is "extension", "number" or
    "voicemail"; ``target`` the extension or the full number to dial."""

    kind: str
    target: str = ""


@dataclass(frozen=True)
class CallSettings:
    """What the call engine reads of an extension's settings, per call."""

    ring_timeout: int = 30  # seconds before "no answer"
    max_call_seconds: int | None = None  # None: the PBX-wide limit; 0: unlimited
    do_not_disturb: bool = False
    call_waiting: bool | None = None  # None: the PBX-wide [calls] call_waiting
    hide_number: bool = False  # outside calls: Privacy: id and an anonymous From
    pickup_group: str = ""  # a phone of the same group answers its ringing calls (*8)
    forward_always: Forward | None = None
    forward_busy: Forward | None = None
    forward_no_answer: Forward | None = None
    may_be_monitored: bool = False  # others may listen to its calls (call/listen)
    # what it may do to others' calls: "disabled", "extensive" (every mode), "listen",
    # "whisper" or "barge-in"
    monitor_mode: str = "disabled"


@dataclass(frozen=True)
class SipAccount:
    number: str  # extension number, the user part phones register as
    auth_name: str  # digest username (wire: registername)
    password: str  # digest password (wire: registerpassword)
    max_registrations: int = 1
    display_name: str = ""
    caller_id: str = ""  # the number shown on outside calls (wire: callerid); "": number
    status_monitored: bool = True  # ExtensionStatus events are sent for it
    calls: CallSettings = CallSettings()
    trunk: str = ""  # the account trunk's name when this is one (see put_trunk_account)


# listener(number, old, new): new is None when the extension was deleted
ChangeListener = Callable[[str, SipAccount | None, SipAccount | None], None]


class AccountDirectory:
    def __init__(self) -> None:
        self._by_number: dict[str, SipAccount] = {}
        self._by_auth: dict[str, SipAccount] = {}
        self._listeners: list[ChangeListener] = []
        # account trunks: the remote side registers to us like a phone, but the number
        # is no extension (by_number does not find it, so no call routes to it)
        self._trunks: dict[str, SipAccount] = {}
        self._trunks_by_auth: dict[str, SipAccount] = {}

    def __len__(self) -> int:
        return len(self._by_number)

    def by_number(self, number: str) -> SipAccount | None:
        return self._by_number.get(number)

    def by_auth_name(self, auth_name: str) -> SipAccount | None:
        """The account (an extension's, else an account trunk's) with this digest name."""
        return self._by_auth.get(auth_name) or self._trunks_by_auth.get(auth_name)

    def status_monitored(self, number: str) -> bool:
        """Whether ExtensionStatus events go out for `number` (yes unless it opted out;
        never for an account trunk)."""
        account = self._by_number.get(number)
        if account is None:
            return number not in self._trunks
        return account.status_monitored

    # -- account trunks (kept by the trunks feature) -----------------------------------------

    def trunk_account(self, number: str) -> SipAccount | None:
        return self._trunks.get(number)

    def trunk_accounts(self) -> list[SipAccount]:
        return list(self._trunks.values())

    def put_trunk_account(self, account: SipAccount) -> None:
        old = self._trunks.get(account.number)
        if old == account:
            return
        if old is not None and self._trunks_by_auth.get(old.auth_name) is old:
            del self._trunks_by_auth[old.auth_name]
        self._trunks[account.number] = account
        self._trunks_by_auth[account.auth_name] = account
        self._notify(account.number, old, account)

    def remove_trunk_account(self, number: str) -> None:
        old = self._trunks.pop(number, None)
        if old is None:
            return
        if self._trunks_by_auth.get(old.auth_name) is old:
            del self._trunks_by_auth[old.auth_name]
        self._notify(number, old, None)

    def numbers(self) -> list[str]:
        return list(self._by_number)

    def on_change(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    def put(self, account: SipAccount) -> None:
        old = self._by_number.get(account.number)
        if old is not None and self._by_auth.get(old.auth_name) is old:
            del self._by_auth[old.auth_name]
        self._by_number[account.number] = account
        self._by_auth[account.auth_name] = account
        self._notify(account.number, old, account)

    def remove(self, number: str) -> None:
        old = self._by_number.pop(number, None)
        if old is None:
            return
        if self._by_auth.get(old.auth_name) is old:
            del self._by_auth[old.auth_name]
        self._notify(number, old, None)

    def load(self, accounts: list[SipAccount]) -> None:
        """Start-up: fill without notifying (nothing is registered yet)."""
        self._by_number = {a.number: a for a in accounts}
        self._by_auth = {a.auth_name: a for a in accounts}

    def _notify(self, number: str, old: SipAccount | None, new: SipAccount | None) -> None:
        for listener in self._listeners:
            try:
                listener(number, old, new)
            except Exception:
                log.exception("directory listener failed for %s", number)
