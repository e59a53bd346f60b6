"""Recording the box's own greetings from the phone: option 3 of the voicemail menu
records the unavailable greeting (callers whose call was not answered), option 4 the
busy greeting (callers who found the line busy).

The owner hears how to record, a beep, and what it says is recorded until `#`, a few
seconds of silence, the maximum length, or a hang-up. The recording is a draft until
it ends; a draft of at least a second replaces the greeting in one rename, so a caller
leaving a message meanwhile hears the old greeting or the new one. A shorter one (a
`#` pressed at once) is thrown away and the old greeting stays.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from kilopbx.apps.voicemail.store import BUSY, UNAVAILABLE, VoicemailStore, wav_length
from kilopbx.engine.applications import AppChannel

log = logging.getLogger(__name__)

BEEP = "tone:beep"
MAX_SECONDS = 60.0
SILENCE_SECONDS = 4.0
MIN_SECONDS = 1.0

INSTRUCTIONS = {UNAVAILABLE: "vm-record-greeting", BUSY: "vm-record-busy-greeting"}

Say = Callable[..., Awaitable[bool]]  # plays prompt names in turn (`VoicemailListening._say`)


async def record_greeting(
    channel: AppChannel, store: VoicemailStore, mailbox: str, say: Say, which: str = UNAVAILABLE
) -> bool:
    """Record a new greeting of kind ``which`` (`UNAVAILABLE`, `BUSY`) for
    ``mailbox``; True when it was kept."""
    await say(channel, INSTRUCTIONS[which])
    channel.clear_digits()  # a key during the instructions only skips them
    if channel.hung_up:
        return False
    await channel.play(BEEP)
    draft = await asyncio.to_thread(store.greeting_draft, mailbox, which)
    recorded = await channel.record(
        str(draft), max_seconds=MAX_SECONDS, silence_seconds=SILENCE_SECONDS
    )
    seconds = await asyncio.to_thread(wav_length, draft)
    if seconds < MIN_SECONDS:
        draft.unlink(missing_ok=True)
        log.info("voicemail %s: %s greeting not kept (%.1f s, %s)",
                 mailbox, which, seconds, recorded.why)  # fmt: skip
        await say(channel, "vm-greeting-too-short")
        return False
    await asyncio.to_thread(store.keep_greeting, mailbox, which)
    log.info("voicemail %s: new %.1f s %s greeting (%s)", mailbox, seconds, which, recorded.why)
    await say(channel, "vm-greeting-saved")
    return True
