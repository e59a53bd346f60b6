"""Leaving a message: the `CallApplication` of kind "voicemail".

The caller hears the box's greeting, then a beep, and what it says is recorded until
the maximum length, a few seconds of silence, `#`, or its hang-up. A box has two
greetings, each the owner's recording (`VoicemailStore.greeting`) or the system's: the
busy one ("The person at extension 2 0 0 2 is on the phone...") for a caller who found
the line busy, the unavailable one for any other (no answer, DND, or calling the box).
A message shorter than a second (a caller who hung up at the beep) is not kept.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilopbx.apps.extensions.models import Extension
from kilopbx.apps.ivr.prompts import PromptSources
from kilopbx.apps.prompts.catalog import digit_prompts
from kilopbx.apps.voicemail.store import BUSY, UNAVAILABLE, BoxFull, VoicemailStore, wav_length
from kilopbx.engine.applications import AppChannel, Outcome, Release
from kilopbx.engine.directory import AccountDirectory

log = logging.getLogger(__name__)

KIND = "voicemail"
GREETING_PROMPT = "vm-greeting"
BUSY_PROMPTS = ("vm-person-at-extension", "vm-is-on-the-phone")  # the number between
BEEP = "tone:beep"
MAX_SECONDS = 180.0
SILENCE_SECONDS = 5.0
MIN_SECONDS = 1.0


class VoicemailApplication:
    kind = KIND

    def __init__(
        self,
        store: VoicemailStore,
        directory: AccountDirectory,
        prompts: PromptSources,
        now: Callable[[], float],
        db: async_sessionmaker[AsyncSession],
        *,
        max_seconds: float = MAX_SECONDS,
        silence_seconds: float = SILENCE_SECONDS,
    ) -> None:
        self.store = store
        self.directory = directory
        self.prompts = prompts
        self.now = now
        self.db = db
        self.max_seconds = max_seconds
        self.silence_seconds = silence_seconds

    async def owns(self, number: str) -> bool:
        """An extension whose voicemail is on (`hasvoicemail`)."""
        if self.directory.by_number(number) is None:
            return False
        async with self.db() as db:
            enabled = await db.scalar(
                select(Extension.voicemail_enabled).where(Extension.number == number)
            )
        return bool(enabled)

    async def run(self, channel: AppChannel, number: str) -> Outcome:
        member = channel.member(number)
        caller = member.number or member.caller
        await self._greet(channel, number)
        channel.clear_digits()  # a key during the greeting skips it, nothing more
        if channel.hung_up:
            return Release("caller hung up during the greeting")
        await channel.play(BEEP)
        try:
            path = self.store.new_message(number, caller, self.now())
        except BoxFull:
            log.warning("voicemail %s: the box is full", number)
            return Release("voicemail box full")
        self.store.recording.add(path)  # not downloadable while it is being written
        try:
            recorded = await channel.record(
                str(path), max_seconds=self.max_seconds, silence_seconds=self.silence_seconds
            )
        finally:
            self.store.recording.discard(path)
        # what is on disk counts: a recording cut by a lost worker is kept as it is
        seconds = max(recorded.seconds, await asyncio.to_thread(wav_length, path))
        if seconds < MIN_SECONDS:
            self.store.discard(path)
            return Release(f"no message ({recorded.why})")
        log.info("voicemail %s: %.1f s message from %s (%s)", number, seconds,
                 caller or "unknown", recorded.why)  # fmt: skip
        self.store.changed(number)
        return Release("message left")

    async def _greet(self, channel: AppChannel, number: str) -> None:
        """The box's greeting: its busy one for a caller who found the line busy, its
        unavailable one otherwise (no answer, DND, or the box called itself); the
        owner's recording of that kind, else the system's."""
        which = BUSY if channel.unreached == "busy" else UNAVAILABLE
        own = self.store.greeting(number, which)
        if await asyncio.to_thread(own.is_file):
            await channel.play(f"file:{own}")
            return
        if which == UNAVAILABLE:
            await channel.play(self.prompts.source(GREETING_PROMPT))
            return
        first, last = BUSY_PROMPTS
        for name in (first, *digit_prompts(number), last):
            if not await channel.play(self.prompts.source(name)):
                return  # a key skips the rest of the greeting, a hang-up ends it
