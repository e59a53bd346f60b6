"""IVRs on live calls: the `CallApplication` the engine hands a call to an IVR number
(dialled, or an inbound route's `ivr` destination) to.

Per call it reads the IVR's settings once (a call keeps the settings it entered
with), runs the sans-IO `IvrMenu` against the caller's channel (prompts, keys,
timers on the host clock), publishes a `DTMF` event for every key the menu collects,
and turns the destination the menu reaches into the engine's outcome: an extension is
rung, another IVR entered, `hangup` hangs up, a voicemail feature code keyed in an
IVR that lets callers check their voicemail enters the voicemail menu, a number
keyed in an IVR that lets callers dial out leaves through the first of the IVR's
outbound routes (`selectedrouters`, all when empty) that matches it. A
destination whose feature does not run calls yet (ring groups, queues, conference
rooms, fax) is logged as such, the caller hears the "not available" prompt, and
the call ends.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace

from kilopbx.apps.ivr.menu import DIAL_OUT, Arm, Collected, Done, IvrMenu, MenuSettings, Play
from kilopbx.apps.ivr.models import DEFAULT_PROMPT
from kilopbx.apps.ivr.prompts import PromptSources
from kilopbx.apps.ivr.service import KIND, IvrService, StoredIvr
from kilopbx.apps.ring_groups.destinations import EXTENSION, HANGUP, IVR, Destination
from kilopbx.clock import Clock
from kilopbx.engine.applications import (
    AppChannel,
    CallApplication,
    Connect,
    DialOut,
    Enter,
    Outcome,
    Release,
    application_for,
)
from kilopbx.engine.directory import AccountDirectory
from kilopbx.engine.routing import CallRouting
from kilopbx.events.bus import EventBus
from kilopbx.events.call_events import Dtmf, PlayPromptEnd

log = logging.getLogger(__name__)

MENU_PROMPT = "ivr-menu"  # the system prompt of an IVR whose prompt is [Default]
UNAVAILABLE_PROMPT = "unavailable"


class IvrApplication:
    kind = KIND

    def __init__(
        self,
        service: IvrService,
        directory: AccountDirectory,
        bus: EventBus,
        clock: Clock,
        applications: Callable[[], Sequence[CallApplication]],
        prompts: PromptSources,
        routing: Callable[[], CallRouting | None] = lambda: None,
    ) -> None:
        """``routing``: the outbound routes, for IVRs that let callers dial out."""
        self.prompts = prompts
        self.routing = routing
        self.service = service
        self.directory = directory
        self.bus = bus
        self.clock = clock
        self.applications = applications

    async def owns(self, number: str) -> bool:
        return bool(await self.service.query([number]))

    async def run(self, channel: AppChannel, number: str) -> Outcome:
        found = await self.service.query([number])
        if not found:
            return Release(f"IVR {number} is gone")
        menu = IvrMenu(settings_of(found[0]), self._is_extension, self._extends)
        done = await self._drive(channel, menu)
        if done is None:
            return Release("caller hung up")
        log.info("IVR %s, call %s: %s -> %s", number, channel.call_id, done.why, done.destination)
        if done.destination.kind == DIAL_OUT:
            return await self._dial_out(channel, found[0], done.destination.value)
        return await self._outcome(channel, number, done.destination)

    async def _dial_out(self, channel: AppChannel, stored: StoredIvr, dialled: str) -> Outcome:
        """The number the caller keyed, through one of the IVR's outbound routes."""
        routing = self.routing()
        named = frozenset(n.strip() for n in stored.ivr.selected_routes.split(",") if n.strip())
        choice = None if routing is None else await routing.outbound_through(named, dialled)
        if choice is None:
            log.info("IVR %s: no outbound route of the IVR takes %s", stored.ivr.number,
                     dialled[:32])  # fmt: skip
            await channel.play(self.prompts.source(UNAVAILABLE_PROMPT))
            return Release("no outbound route")
        return DialOut(dialled, choice)

    async def _drive(self, channel: AppChannel, menu: IvrMenu) -> Done | None:
        """Feed the menu until it is done, or the caller hangs up (None)."""
        actions = menu.start(self.clock.monotonic())
        deadline: float | None = None
        prompts: tuple[str, ...] = ()
        while True:
            for action in actions:
                match action:
                    case Done():
                        return action
                    case Play(names):
                        prompts = names
                    case Arm(at):
                        deadline = at
                    case Collected(digit, position, entered):
                        member = channel.member(menu.settings.number)
                        self.bus.publish(Dtmf(channel.call_id, member, digit, position, entered))
            if _gone(channel):
                return None
            if prompts:
                played, prompts = prompts, ()
                deadline = None
                for prompt in played:
                    ended = await channel.play(self.prompts.source(prompt))
                    if prompt == menu.settings.prompt:  # 80-events §4.10 variant B
                        self._prompt_ended(channel, menu.settings.number)
                    if not ended and channel.pending_digits():
                        break  # a key cut it short: the menu reads it next
                if _gone(channel):
                    return None
                if not channel.pending_digits():
                    actions = menu.prompt_ended(self.clock.monotonic())
                    continue
            timeout = None if deadline is None else max(0.0, deadline - self.clock.monotonic())
            key = await channel.next_digit(timeout)
            if _gone(channel):
                return None
            now = self.clock.monotonic()
            actions = menu.timer(now) if key is None else menu.digit(key, now)

    async def _outcome(self, channel: AppChannel, number: str, to: Destination) -> Outcome:
        if to.kind == HANGUP:
            return Release("hangup")
        if to.kind == EXTENSION:
            return Connect(to.value, call_path=number)
        if to.kind != IVR and await application_for(self.applications(), to.value, to.kind) is None:
            log.warning(
                "IVR %s: calls cannot go to a %s yet (%s); hanging up", number, to.kind, to.value
            )
            await channel.play(self.prompts.source(UNAVAILABLE_PROMPT))
            return Release(f"{to.kind} destinations are not available yet")
        return Enter(to.kind, to.value)

    def _prompt_ended(self, channel: AppChannel, number: str) -> None:
        if channel.hung_up:
            return
        member = replace(channel.member(number), status=None)  # no memberstatus here
        self.bus.publish(PlayPromptEnd(channel.call_id, (member,), ivr=number))

    def _is_extension(self, number: str) -> bool:
        return self.directory.by_number(number) is not None

    def _extends(self, prefix: str) -> bool:
        return any(n.startswith(prefix) and n != prefix for n in self.directory.numbers())


def _gone(channel: AppChannel) -> bool:
    return channel.hung_up  # a call, so that type narrowing does not keep it False


def settings_of(stored: StoredIvr) -> MenuSettings:
    ivr = stored.ivr
    return MenuSettings(
        number=ivr.number,
        prompt=MENU_PROMPT if ivr.prompt == DEFAULT_PROMPT else ivr.prompt,
        prompt_repeat=ivr.prompt_repeat,
        response_timeout=float(ivr.response_timeout),
        digit_timeout=float(ivr.digit_timeout),
        dial_extensions=ivr.dial_extensions,
        check_voicemail=ivr.dial_check_voicemail,
        dial_out=ivr.dial_outbound_routes,
        keys={key.key: Destination(key.dest_type, key.dest) for key in stored.keys},
        timeout=Destination(ivr.timeout_dest_type, ivr.timeout_dest),
        invalid=Destination(ivr.invalid_dest_type, ivr.invalid_dest),
    )
