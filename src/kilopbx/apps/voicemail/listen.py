"""Listening to messages by feature code: the `CallApplication` of kind
"voicemail-listen", for `*97` (one's own box) and `*98` (any box).

With `*97` the phone has proved with its digest credentials which extension it is;
its mailbox is that extension's (an outside caller, who may key `*97` in an IVR,
is asked for the mailbox as with `*98`). With `*98` (from any phone, or from an IVR that lets
callers check their voicemail) the caller first keys in the mailbox number and `#`.
Then the box's voicemail PIN (`vmsecret`) followed by `#`: three failed logins and the
call says goodbye. A wrong mailbox number costs a try like a wrong PIN and is not
told apart from one, so nobody learns which boxes exist. The limit is per call and
keyed on nothing else, so someone guessing cannot lock the owner out of a later call.
A box without a PIN opens without one from its own phone only.

Then the caller hears how many new messages there are, and the new messages (oldest
first) followed by the saved ones, each introduced by its envelope: its number, the
caller's number and the date and time it arrived. After each: `1` replays it, `7`
deletes it, `9` saves it (a new message becomes a saved one), `#` goes to the next.
After the last one the main menu offers `1` the new messages, `2` the saved ones,
`3` recording one's unavailable greeting, `4` one's busy greeting (`greeting.py`);
`#` or no key ends the call. Every change tells the message-waiting indication
(`VoicemailStore.changed`).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilopbx.apps.extensions.models import Extension
from kilopbx.apps.ivr.prompts import PromptSources
from kilopbx.apps.prompts.catalog import date_time_prompts, digit_prompts, number_prompts
from kilopbx.apps.voicemail.greeting import record_greeting
from kilopbx.apps.voicemail.store import BUSY, READ, UNAVAILABLE, UNREAD, Message, VoicemailStore
from kilopbx.engine.applications import AppChannel, Outcome, Release
from kilopbx.events.call_model import MemberKind

log = logging.getLogger(__name__)

KIND = "voicemail-listen"
OWN_MAILBOX = "*97"
ANY_MAILBOX = "*98"
MAX_TRIES = 3
MAX_PIN = 63
MAX_MAILBOX = 16
DIGIT_TIMEOUT = 5.0
MENU_TIMEOUT = 10.0
MENU_ROUNDS = 3
MAIN_MENU_TURNS = 12  # keys served by the main menu in one call
REPLAY, DELETE, SAVE, NEXT = "1", "7", "9", "#"
NEW_MESSAGES, SAVED_MESSAGES, END = "1", "2", "#"
GREETINGS = {"3": UNAVAILABLE, "4": BUSY}  # main menu key -> the greeting it records


class VoicemailListening:
    kind = KIND

    def __init__(
        self, store: VoicemailStore, prompts: PromptSources, db: async_sessionmaker[AsyncSession]
    ) -> None:
        self.store = store
        self.prompts = prompts
        self.db = db

    async def owns(self, number: str) -> bool:
        return number in (OWN_MAILBOX, ANY_MAILBOX)

    async def run(self, channel: AppChannel, number: str) -> Outcome:
        member = channel.member(number)
        own = member.number if member.kind is MemberKind.EXTENSION and member.number else None
        if number == OWN_MAILBOX and own is None and member.kind is not MemberKind.EXTENSION:
            number = ANY_MAILBOX  # an outside caller (through an IVR) has no box of its own
        if number == OWN_MAILBOX:
            if own is None:
                return Release("voicemail: only an extension's phone has a mailbox")
            if await self._pin_of(own) is None:
                return Release("voicemail: no such extension")
        mailbox = await self._login(channel, number, own)
        if mailbox is None:
            if channel.hung_up:
                return Release("voicemail: caller hung up before logging in")
            log.info("voicemail %s: too many failed logins", own or "(outside caller)")
            await self._say(channel, "vm-too-many-attempts")
            return Release("voicemail: wrong PIN")
        await self._listen(channel, mailbox, (UNREAD, READ), announce=True)
        await self._main_menu(channel, mailbox)
        if not channel.hung_up:
            await self._say(channel, "goodbye")
        return Release("voicemail: done")

    # -- logging in --------------------------------------------------------------------------

    async def _login(self, channel: AppChannel, number: str, own: str | None) -> str | None:
        """The mailbox the caller opened, or None (too many tries, or a hang-up)."""
        for _ in range(MAX_TRIES):
            mailbox = own
            if number == ANY_MAILBOX:
                await self._say(channel, "vm-mailbox")
                mailbox = await self._read_keys(channel, MAX_MAILBOX)
            if _gone(channel):
                return None
            pin = await self._pin_of(mailbox) if mailbox else None
            if pin == "" and mailbox == own:
                return mailbox  # a box without a PIN: the phone's credentials are enough
            await self._say(channel, "vm-password")
            entered = await self._read_keys(channel, MAX_PIN)
            if _gone(channel):
                return None
            if pin and entered is not None and hmac.compare_digest(entered.encode(), pin.encode()):
                return mailbox
            await self._say(channel, "vm-login-incorrect")
        return None

    async def _pin_of(self, mailbox: str) -> str | None:
        """The box's PIN ("" for none), or None when no extension has that number."""
        if not mailbox.isascii() or not mailbox.isdigit() or len(mailbox) > MAX_MAILBOX:
            return None
        async with self.db() as db:
            pin = await db.scalar(
                select(Extension.voicemail_pin).where(Extension.number == mailbox)
            )
        return None if pin is None else str(pin)

    async def _read_keys(self, channel: AppChannel, longest: int) -> str | None:
        """Keys up to `#` (None: too many keys, or nothing before the timeout)."""
        digits = ""
        while len(digits) <= longest:
            key = await channel.next_digit(DIGIT_TIMEOUT)
            if key is None:
                return digits or None
            if key == "#":
                return digits
            digits += key
        return None

    # -- the messages ------------------------------------------------------------------------

    async def _main_menu(self, channel: AppChannel, mailbox: str) -> None:
        for _ in range(MAIN_MENU_TURNS):
            if channel.hung_up:
                return
            if not channel.pending_digits():
                await self._say(channel, "vm-main-menu")
            key = await channel.next_digit(DIGIT_TIMEOUT)
            if key is None or key == END:
                return
            if key == NEW_MESSAGES:
                await self._listen(channel, mailbox, (UNREAD,))
            elif key == SAVED_MESSAGES:
                await self._listen(channel, mailbox, (READ,))
            elif key in GREETINGS:
                await record_greeting(channel, self.store, mailbox, self._say, GREETINGS[key])

    async def _listen(
        self, channel: AppChannel, mailbox: str, folders: Sequence[str], *, announce: bool = False
    ) -> None:
        """The messages of these folders, new ones first, each with its menu."""
        messages = await asyncio.to_thread(self.store.messages, mailbox)
        queue = [m for folder in folders for m in messages if m.status == folder]
        if announce and queue:
            new = sum(1 for m in messages if m.status == UNREAD)
            await self._say(
                channel,
                "vm-you-have",
                *number_prompts(new),
                "vm-new-message" if new == 1 else "vm-new-messages",
            )
        if not queue:
            await self._say(channel, "vm-no-messages")
            return
        for position, message in enumerate(queue, start=1):
            if channel.hung_up:
                return
            await self._one(channel, mailbox, position, message)
        if not channel.hung_up:
            await self._say(channel, "vm-no-more-messages")

    async def _one(self, channel: AppChannel, mailbox: str, position: int, heard: Message) -> None:
        """Play one message and serve its menu until the caller moves on."""
        announce = envelope(position, heard)
        replay = True
        for _ in range(MENU_ROUNDS * 2):
            if replay:
                if await self._say(channel, *announce):
                    path = self.store.box(mailbox) / heard.status / heard.file
                    if path.is_file():
                        await channel.play(f"file:{path}")
                replay = False
            if channel.hung_up:
                return
            if not channel.pending_digits():
                await self._say(channel, "vm-message-menu")
            key = await channel.next_digit(MENU_TIMEOUT)
            if key is None or key == NEXT:
                return
            if key == REPLAY:
                replay = True
            elif key == DELETE:
                statuses = (heard.status,)
                await asyncio.to_thread(self.store.delete, mailbox, statuses, [heard.file])
                self.store.changed(mailbox)
                await self._say(channel, "vm-deleted")
                return
            elif key == SAVE:
                if heard.status == UNREAD:
                    await asyncio.to_thread(self.store.mark_read, mailbox, heard.file)
                    self.store.changed(mailbox)
                await self._say(channel, "vm-saved")
                return

    async def _say(self, channel: AppChannel, *names: str) -> bool:
        """Play prompts in turn; False as soon as a key or a hang-up cuts one short."""
        for name in names:
            if channel.pending_digits() or channel.hung_up:
                return False
            if not await channel.play(self.prompts.source(name)):
                return False
        return True


def _gone(channel: AppChannel) -> bool:
    return channel.hung_up  # a call, so that type narrowing does not keep it False


def envelope(position: int, message: Message) -> list[str]:
    """What is said before a message: "Message two, from 2 0 0 1, received Tuesday
    March seventeen at three oh five P M" (the PBX's local time)."""
    said = ["vm-message", *number_prompts(position)]
    caller = digit_prompts(message.caller[:20])
    if caller:
        said += ["vm-from", *caller]
    received = datetime.fromtimestamp(message.received_at)
    return [*said, "vm-received", *date_time_prompts(received)]
