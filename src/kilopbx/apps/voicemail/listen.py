"""Listening to one's messages by feature code (`*97`): the `CallApplication` of kind
"voicemail-listen".

The phone that dials the code has proved with its digest credentials which extension
it is; its mailbox is that extension's. The caller enters the box's voicemail PIN
(`vmsecret`) followed by `#`: three wrong PINs and the call says goodbye. The limit
is per call and keyed on nothing else, so someone guessing cannot lock the owner out
of a later call. Then it hears how many new messages there are, and the new
messages (oldest first) followed by the saved ones, each introduced by its number
and the caller's number; after each: `1` replays it, `7` deletes it, `9` saves it (a
new message becomes a saved one), `#` goes to the next. Every change tells the
message-waiting indication (`VoicemailStore.changed`).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilopbx.apps.extensions.models import Extension
from kilopbx.apps.ivr.prompts import PromptSources
from kilopbx.apps.prompts.catalog import number_prompts
from kilopbx.apps.voicemail.store import READ, UNREAD, VoicemailStore
from kilopbx.engine.applications import AppChannel, Outcome, Release
from kilopbx.events.call_model import MemberKind

log = logging.getLogger(__name__)

KIND = "voicemail-listen"
OWN_MAILBOX = "*97"
MAX_TRIES = 3
MAX_PIN = 63
DIGIT_TIMEOUT = 5.0
MENU_TIMEOUT = 10.0
MENU_ROUNDS = 3
REPLAY, DELETE, SAVE, NEXT = "1", "7", "9", "#"


@dataclass
class _Heard:
    status: str
    file: str
    caller: str


class VoicemailListening:
    kind = KIND

    def __init__(
        self, store: VoicemailStore, prompts: PromptSources, db: async_sessionmaker[AsyncSession]
    ) -> None:
        self.store = store
        self.prompts = prompts
        self.db = db

    async def owns(self, number: str) -> bool:
        return number == OWN_MAILBOX

    async def run(self, channel: AppChannel, number: str) -> Outcome:
        member = channel.member(number)
        if member.kind is not MemberKind.EXTENSION or not member.number:
            return Release("voicemail: only an extension's phone has a mailbox")
        mailbox = member.number
        async with self.db() as db:
            pin = await db.scalar(
                select(Extension.voicemail_pin).where(Extension.number == mailbox)
            )
        if pin is None:
            return Release("voicemail: no such extension")
        if not await self._login(channel, str(pin)):
            log.info("voicemail %s: too many wrong PINs", mailbox)
            await self._say(channel, "vm-too-many-attempts")
            return Release("voicemail: wrong PIN")
        await self._listen(channel, mailbox)
        if not channel.hung_up:
            await self._say(channel, "goodbye")
        return Release("voicemail: done")

    # -- the PIN -----------------------------------------------------------------------------

    async def _login(self, channel: AppChannel, pin: str) -> bool:
        if not pin:
            return True  # a box without a PIN: the phone's credentials are enough
        for _ in range(MAX_TRIES):
            await self._say(channel, "vm-password")
            entered = await self._read_pin(channel)
            if channel.hung_up:
                return False
            if entered is not None and hmac.compare_digest(entered.encode(), pin.encode()):
                return True
            await self._say(channel, "vm-login-incorrect")
        return False

    async def _read_pin(self, channel: AppChannel) -> str | None:
        digits = ""
        while len(digits) <= MAX_PIN:
            key = await channel.next_digit(DIGIT_TIMEOUT)
            if key is None:
                return digits or None
            if key == "#":
                return digits
            digits += key
        return None

    # -- the messages ------------------------------------------------------------------------

    async def _listen(self, channel: AppChannel, mailbox: str) -> None:
        messages = await asyncio.to_thread(self.store.messages, mailbox)
        new = [m for m in messages if m.status == UNREAD]
        queue = [_Heard(m.status, m.file, m.caller) for m in new]
        queue += [_Heard(m.status, m.file, m.caller) for m in messages if m.status == READ]
        if not queue:
            await self._say(channel, "vm-no-messages")
            return
        await self._say(
            channel,
            "vm-you-have",
            *number_prompts(len(new)),
            "vm-new-message" if len(new) == 1 else "vm-new-messages",
        )
        for position, message in enumerate(queue, start=1):
            if channel.hung_up:
                return
            await self._one(channel, mailbox, position, message)
        if not channel.hung_up:
            await self._say(channel, "vm-no-more-messages")

    async def _one(self, channel: AppChannel, mailbox: str, position: int, heard: _Heard) -> None:
        """Play one message and serve its menu until the caller moves on."""
        announce = ["vm-message", *number_prompts(position)]
        announce += [f"digit-{d}" for d in heard.caller[:20] if d.isdigit()]
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
