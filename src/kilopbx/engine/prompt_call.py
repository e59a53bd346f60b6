"""A call the PBX makes to play prompts (`call/playprompt`): ring, play, hang up.

The phone is rung the way click-to-call rings its first party (`call_dial.Dialler`:
every contact, first answer wins, the auto-answer hints when asked). Once it
answers, the playlist is played `count` times on its endpoint; then, unless told
to keep the line, the PBX hangs up. The phone hanging up stops the prompt. The end
(`PromptCallEnded`) goes to the callback whatever happened after the answer, so the
application always gets its `PlayPromptEnd`; a phone that never answers gets no
playback and no event (the call attempt simply ends).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kilopbx.core.errors import DomainError
from kilopbx.engine.call_dial import DTMF, FIRST_LEG_CODECS, Dialler
from kilopbx.engine.call_leg import LegOwner
from kilopbx.engine.calls import NO_SUCH_CALLEE
from kilopbx.engine.directory import SipAccount
from kilopbx.engine.routing import Contact
from kilopbx.engine.sdp_negotiation import LegMedia, SdpRejected
from kilopbx.media.pool import EndpointRef, MediaError
from kilopbx.sip.dialog import DialogError

if TYPE_CHECKING:
    from kilopbx.engine.calls import CallEngine

log = logging.getLogger(__name__)

CALLEE_UNREACHABLE = "calls.callee_unreachable"
SHOWN_AS = "playprompt"  # the caller the phone sees
MAX_HOLD = 3600.0  # a line kept open after the prompt (autohangup no) lasts this long at most


@dataclass(frozen=True)
class PromptCallEnded:
    call_id: str
    number: str
    channel_id: str
    answered: bool
    completed: bool  # every repetition played to its end
    cause: str  # "done", "hangup" (the phone), "media", "not_answered"


class _Line:
    """The answered phone's dialog requests: a BYE ends the prompt call."""

    def __init__(self) -> None:
        self.gone = asyncio.Event()

    def leg_bye(self, channel: str) -> None:
        self.gone.set()

    async def leg_offer(self, channel: str, media: LegMedia) -> bytes:
        raise SdpRejected("a prompt call does not change its media")

    def leg_sdp(self, channel: str) -> bytes | None:
        return None

    def leg_refreshed(self, channel: str) -> list[tuple[str, str]]:
        return []

    def leg_digit(self, channel: str, digit: str, duration_ms: int) -> None:
        pass  # keys are not collected while a prompt plays to an extension


class PromptCall(Dialler):
    def __init__(
        self,
        engine: CallEngine,
        account: SipAccount,
        contacts: Sequence[Contact],
        sources: Sequence[str],
        *,
        count: int,
        auto_answer: bool,
        auto_hangup: bool,
        done: Callable[[PromptCallEnded], None],
        gain_db: float = 0.0,
    ) -> None:
        super().__init__(engine, account, SHOWN_AS, contacts, auto_answer=auto_answer)
        self.gain_db = gain_db
        self.sources = list(sources)
        self.count = count
        self.auto_hangup = auto_hangup
        self.done = done
        self.line = _Line()
        self.owner = LegOwner(self.line, self.channel_id)

    async def run(self) -> None:
        engine = self.engine
        try:
            codecs = [(c.payload_type, c.name) for c in (*FIRST_LEG_CODECS, DTMF)]
            endpoint = await engine.first_endpoint(codecs)
        except (MediaError, OSError, RuntimeError, TimeoutError) as exc:
            log.error("playprompt %s: no media: %s", self.call_id, exc)
            return
        try:
            answer = await self.ring_phones(endpoint)
            if answer is None:
                return
            completed, cause = False, "media"
            try:
                media = answer.media
                await engine.media.modify_endpoint(
                    endpoint,
                    codecs=[{"pt": pt, "name": name} for pt, name in media.worker_codecs()],
                    remote={"host": media.host, "port": media.port},
                )
                completed, cause = await self._play(endpoint)
                if not self.auto_hangup and cause == "done":
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.line.gone.wait(), MAX_HOLD)
            except MediaError as refused:
                log.warning("playprompt %s: %s", self.call_id, refused)
            finally:
                if not self.line.gone.is_set() and not answer.dialog.ended:
                    with contextlib.suppress(DialogError):
                        await answer.dialog.request("BYE")
                self._report(True, completed, cause)
        except Exception:
            log.exception("playprompt %s failed", self.call_id)
        finally:
            with contextlib.suppress(MediaError):
                await engine.media.delete_endpoint(endpoint)

    async def _play(self, endpoint: EndpointRef) -> tuple[bool, str]:
        gone = asyncio.ensure_future(self.line.gone.wait())
        try:
            for _ in range(self.count):
                playback = await self.engine.media.play(
                    endpoint, self.sources, gain_db=self.gain_db
                )
                finished = asyncio.ensure_future(playback.wait())
                await asyncio.wait({finished, gone}, return_when=asyncio.FIRST_COMPLETED)
                if gone.done():
                    finished.cancel()
                    with contextlib.suppress(MediaError):
                        await self.engine.media.stop(endpoint)
                    return False, "hangup"
                if finished.result() != "finished":
                    return False, "media"
            return True, "done"
        finally:
            gone.cancel()

    def _report(self, answered: bool, completed: bool, cause: str) -> None:
        ended = PromptCallEnded(
            self.call_id, self.caller.number, self.channel_id, answered, completed, cause
        )
        try:
            self.done(ended)
        except Exception:
            log.exception("playprompt %s: the end callback failed", self.call_id)


def prompt_call(
    engine: CallEngine,
    number: str,
    sources: Sequence[str],
    *,
    done: Callable[[PromptCallEnded], None],
    count: int = 1,
    auto_answer: bool = False,
    auto_hangup: bool = True,
    gain_db: float = 0.0,
) -> PromptCall:
    """The prompt call to extension `number` (not started: `run()` it). `DomainError` as
    for click-to-call when the extension is missing or not registered."""
    account = engine.directory.by_number(number)
    if account is None:
        raise DomainError(NO_SUCH_CALLEE, f"no extension {number[:16]}")
    contacts = engine.registrations.contacts_for(number)
    if not contacts:
        raise DomainError(CALLEE_UNREACHABLE, f"extension {number} is not registered")
    return PromptCall(
        engine, account, contacts, sources, count=count, auto_answer=auto_answer,
        auto_hangup=auto_hangup, gain_db=gain_db, done=done,
    )  # fmt: skip
