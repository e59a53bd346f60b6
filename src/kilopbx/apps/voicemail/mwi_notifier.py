"""Message-waiting indication over SIP (RFC 3842): SUBSCRIBE to `message-summary`
from a registered extension (digest-authenticated like its REGISTER), 200 and an
immediate NOTIFY, a NOTIFY in every subscription when a mailbox changes (a new
message, one heard or deleted), and, to the registered phones of a mailbox nobody
subscribed to, an unsolicited NOTIFY outside any dialog.

The decisions (what a SUBSCRIBE gets, which subscriptions live, the body) are in
`mwi`; here the SIP traffic and the timer that ends expired subscriptions. Live
subscriptions are written to the data directory after every change (`mwi_saved`)
and taken up again at start, each with a NOTIFY of the current counts, so a restart
neither loses a phone's subscription nor leaves its lamp stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Coroutine, Hashable
from dataclasses import replace
from pathlib import Path
from typing import Any

from kilopbx.apps.voicemail.mwi import (
    CONTENT_TYPE,
    EVENT,
    MwiSubscriptions,
    Subscription,
    check_subscribe,
    state_header,
    summary,
)
from kilopbx.apps.voicemail.mwi_saved import SavedSubscription, read_entries, write_entries
from kilopbx.apps.voicemail.store import VoicemailStore
from kilopbx.clock import Clock
from kilopbx.engine.directory import AccountDirectory
from kilopbx.engine.routing import Registrations
from kilopbx.engine.sip_auth import REGISTRAR_AUTH, DigestAuthenticator
from kilopbx.engine.sip_service import SipService
from kilopbx.sip.dialog import DialogError
from kilopbx.sip.dialog_user import SipDialog
from kilopbx.sip.errors import HeaderValueError
from kilopbx.sip.headers import Headers
from kilopbx.sip.message import SipRequest
from kilopbx.sip.transaction_user import ServerTransactionHandle
from kilopbx.sip.transport import Destination
from kilopbx.sip.uri import SipUri

log = logging.getLogger(__name__)

SWEEP_SECONDS = 30.0  # the longest the expiry timer sleeps


class MwiNotifier:
    def __init__(
        self,
        sip: SipService,
        auth: DigestAuthenticator,
        registrations: Registrations,
        directory: AccountDirectory,
        store: VoicemailStore,
        clock: Clock,
        saved: Path | None = None,
    ) -> None:
        """``saved``: the file live subscriptions are kept in across restarts."""
        self.sip = sip
        self.auth = auth
        self.registrations = registrations
        self.directory = directory
        self.store = store
        self.clock = clock
        self.subscriptions = MwiSubscriptions()
        self._dialogs: dict[Hashable, SipDialog] = {}
        self._locks: dict[Hashable, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self.notifies = 0
        self.saved = saved
        self._dirty = False
        self._writer: asyncio.Task[None] | None = None

    # -- life ----------------------------------------------------------------------------

    def start(self) -> None:
        self._spawn(self._expire_loop())

    async def restore(self) -> int:
        """Take up the subscriptions saved before a restart (each told the counts at
        once); returns how many."""
        if self.saved is None:
            return 0
        found = await asyncio.to_thread(read_entries, self.saved, self.clock.now())
        wall, now = self.clock.now(), self.clock.monotonic()
        restored: list[tuple[SipDialog, Subscription]] = []
        for entry in found:
            mailbox = entry.mailbox
            if self.directory.by_number(mailbox) is None or not self.subscriptions.admit(mailbox):
                continue
            dialog = SipDialog(self.sip.stack, entry.dialog, self)
            if self.sip.stack.dialogs.get(dialog.id) is not None:
                continue  # the same dialog twice in the file
            dialog.register()
            left = max(1, int(entry.expires_at - wall))
            subscription = self.subscriptions.subscribe(dialog.id, mailbox, left, now)
            self._dialogs[dialog.id] = dialog
            restored.append((dialog, subscription))
        self._wake.set()
        self._spawn(self._notify_restored(restored))
        log.info("message-waiting: %d subscriptions taken up again", len(restored))
        return len(restored)

    async def _notify_restored(self, restored: list[tuple[SipDialog, Subscription]]) -> None:
        await self.sip.wait_started()  # the SIP port opens after every feature started
        for dialog, subscription in restored:
            self._spawn(self._notify(dialog, subscription))

    async def stop(self) -> None:
        writer = self._writer
        for task in list(self._tasks):
            if task is not writer:  # a write under way finishes: its thread would anyway
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.saved is not None:
            with contextlib.suppress(OSError):
                await asyncio.to_thread(write_entries, self.saved, self._snapshot())

    # -- new SUBSCRIBE (outside a dialog) ---------------------------------------------------

    def on_subscribe(self, transaction: ServerTransactionHandle) -> None:
        request = transaction.request
        verdict = check_subscribe(
            request.headers.get("Event"),
            request.headers.get_all("Accept"),
            request.headers.get("Expires"),
        )
        if verdict.status != 200:
            transaction.respond(verdict.status, headers=verdict.headers)
            return
        user = _uri_user(request, "From")
        client = transaction.source.host
        if user is None:
            transaction.respond(403)
            return
        outcome = self.auth.check(request, user, client, REGISTRAR_AUTH)
        if outcome.challenge:
            self.auth.challenge(transaction, stale=outcome.stale, headers=REGISTRAR_AUTH)
            return
        if outcome.failed or outcome.account is None:
            self.auth.strike(client)
            transaction.respond(403)
            return
        mailbox = outcome.account.number
        asked = _uri_user(request, "R-URI")
        if asked and asked != mailbox and self.directory.by_number(asked) is not None:
            transaction.respond(403, "Not Your Mailbox")  # another extension's box
            return
        if verdict.expires and not self.subscriptions.admit(mailbox):
            transaction.respond(503, headers=[("Retry-After", "300")])
            return
        contact = self.sip.stack.contact_for(transaction.source, mailbox)
        try:
            dialog = SipDialog.accept(self.sip.stack, transaction, self, local_contact=contact)
        except DialogError:
            transaction.respond(400, "Missing Contact or From tag")
            return
        headers = [("Expires", str(verdict.expires)), ("Contact", contact)]
        transaction.respond(200, headers=headers)
        now = self.clock.monotonic()
        subscription = self.subscriptions.subscribe(dialog.id, mailbox, verdict.expires, now)
        if verdict.expires:
            self._dialogs[dialog.id] = dialog
            self._wake.set()
            self._save()
        self._spawn(self._notify(dialog, subscription))

    # -- requests in a subscription's dialog (DialogOwner) ----------------------------------

    async def on_dialog_request(
        self, dialog: SipDialog, transaction: ServerTransactionHandle
    ) -> None:
        request = transaction.request
        subscription = self.subscriptions.get(dialog.id)
        if request.method != "SUBSCRIBE":
            transaction.respond(405, headers=[("Allow", "SUBSCRIBE")])
            return
        if subscription is None:
            transaction.respond(481)
            return
        verdict = check_subscribe(
            request.headers.get("Event"),
            request.headers.get_all("Accept"),
            request.headers.get("Expires"),
        )
        if verdict.status != 200:
            transaction.respond(verdict.status, headers=verdict.headers)
            return
        transaction.respond(200, headers=[("Expires", str(verdict.expires))])
        now = self.clock.monotonic()
        self.subscriptions.subscribe(dialog.id, subscription.mailbox, verdict.expires, now)
        self._wake.set()
        self._save()
        await self._notify(dialog, subscription)

    def on_dialog_ack(self, dialog: SipDialog, ack: SipRequest) -> None:
        pass

    # -- mailbox changes ---------------------------------------------------------------------

    def changed(self, mailbox: str) -> None:
        """A message arrived, was heard or deleted: tell the subscribers, or else the
        mailbox's registered phones."""
        watching = self.subscriptions.watching(mailbox)
        for subscription in watching:
            dialog = self._dialogs.get(subscription.key)
            if dialog is not None:
                self._spawn(self._notify(dialog, subscription))
        if not watching:
            self._spawn(self._unsolicited(mailbox))

    async def _notify(self, dialog: SipDialog, subscription: Subscription) -> None:
        lock = self._locks.setdefault(subscription.key, asyncio.Lock())
        async with lock:  # one NOTIFY at a time per dialog, in order of the changes
            new, old = await asyncio.to_thread(self.store.counts, subscription.mailbox)
            state = state_header(subscription.expires_at, self.clock.monotonic())
            account = _account_uri(dialog.dialog.local_contact, subscription.mailbox)
            headers = [
                ("Event", EVENT),
                ("Subscription-State", state),
                ("Content-Type", CONTENT_TYPE),
            ]
            with contextlib.suppress(DialogError):
                self.notifies += 1
                response = await dialog.request(
                    "NOTIFY", headers=headers, body=summary(new, old, account)
                )
                if response.status >= 300:  # 481, 408, or refused: the phone is gone
                    self._forget(subscription.key, dialog)
            if state.startswith("terminated"):
                self._forget(subscription.key, dialog)
            self._save()  # the dialog's CSeq moved on

    async def _unsolicited(self, mailbox: str) -> None:
        contacts = self.registrations.contacts_for(mailbox)
        if not contacts:
            return
        new, old = await asyncio.to_thread(self.store.counts, mailbox)
        for contact in contacts:
            destination = Destination(contact.transport, contact.host, contact.port)
            ours = self.sip.stack.contact_for(destination, mailbox)
            address = ours.strip("<>")
            headers = Headers(
                [
                    ("From", f"<{address}>;tag={secrets.token_hex(6)}"),
                    ("To", f"<{contact.uri}>"),
                    ("Call-ID", f"{secrets.token_hex(12)}@kilopbx"),
                    ("CSeq", "1 NOTIFY"),
                    ("Contact", ours),
                    ("Event", EVENT),
                    ("Subscription-State", "active"),
                    ("Content-Type", CONTENT_TYPE),
                ]
            )
            body = summary(new, old, _account_uri(ours, mailbox))
            self.notifies += 1
            with contextlib.suppress(Exception):
                await self.sip.stack.send_request(
                    SipRequest("NOTIFY", contact.uri, headers, body), destination
                )

    # -- expiry ------------------------------------------------------------------------------

    async def _expire_loop(self) -> None:
        while True:
            at = self.subscriptions.next_expiry()
            wait = SWEEP_SECONDS if at is None else at - self.clock.monotonic()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, min(wait, SWEEP_SECONDS)))
            for subscription in self.subscriptions.expire(self.clock.monotonic()):
                dialog = self._dialogs.get(subscription.key)
                if dialog is not None:
                    self._spawn(self._notify(dialog, subscription))  # terminated;timeout

    def _forget(self, key: Hashable, dialog: SipDialog) -> None:
        """End a subscription and its dialog (also a fetch's, never kept)."""
        self.subscriptions.remove(key)
        self._locks.pop(key, None)
        if self._dialogs.pop(key, None) is not None:
            self._save()
        if not dialog.ended:
            dialog.end()

    # -- kept across restarts ----------------------------------------------------------------

    def _save(self) -> None:
        """Write the live subscriptions soon; changes meanwhile join the same write."""
        if self.saved is None:
            return
        self._dirty = True
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write())
            self._tasks.add(self._writer)
            self._writer.add_done_callback(self._done)

    async def _write(self) -> None:
        assert self.saved is not None
        try:
            while self._dirty:
                self._dirty = False
                try:
                    await asyncio.to_thread(write_entries, self.saved, self._snapshot())
                except OSError as exc:
                    log.warning("message-waiting subscriptions not saved: %s", exc)
        finally:
            self._writer = None

    def _snapshot(self) -> list[SavedSubscription]:
        wall, now = self.clock.now(), self.clock.monotonic()
        found = []
        for key, dialog in self._dialogs.items():
            subscription = self.subscriptions.get(key)
            if subscription is None or dialog.ended:
                continue
            copy = replace(dialog.dialog, route_set=list(dialog.dialog.route_set))
            expires_at = wall + subscription.expires_at - now
            found.append(SavedSubscription(subscription.mailbox, expires_at, copy))
        return found

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("message-waiting notify failed: %s", task.exception())


def _uri_user(request: SipRequest, which: str) -> str | None:
    with contextlib.suppress(HeaderValueError, ValueError):
        uri = request.from_.uri if which == "From" else request.request_uri
        if isinstance(uri, SipUri) and uri.user:
            return uri.user
    return None


def _account_uri(contact: str | None, mailbox: str) -> str:
    """`sip:<mailbox>@<our address>` from one of our Contact values."""
    text = (contact or "").strip("<>")
    host = text.split("@", 1)[1].split(";")[0] if "@" in text else "kilopbx"
    return f"sip:{mailbox}@{host}"
