"""One caller in one IVR menu, sans IO: events in, actions out, time passed in.

The runtime (`apps/ivr/runtime.py`) plays what `Play` asks, arms the timer `Arm`
names, publishes each `Collected` key as a `DTMF` event, and follows the `Done`
destination. The behaviour is spec 40-ivr.md's, with our key destinations:

1. The menu prompt plays; a key pressed during it cuts it short and counts.
2. After the prompt the caller has `response_timeout` seconds for the first key,
   then `digit_timeout` seconds for each further key while what was typed could
   still become a longer extension number (dial-by-extension on). `#` ends the input
   at once. A single key with a destination and no extension starting with it is
   taken at once.
3. The input is then a key with a destination, an extension number (when
   `dial_extensions` is on), a voicemail feature code (`*97` one's own box, `*98`
   any box: when `check_voicemail` is on), a number to dial outside (any other
   digits, when `dial_out` is on: the runtime finds its outbound route) or invalid.
   With `dial_out` on, digits are collected until `#` or `digit_timeout`.
4. No input, or invalid input, costs one attempt: the menu plays again (after the
   "invalid entry" prompt for invalid input) until it has been played
   `prompt_repeat` times; then the call goes to the timeout or invalid-input
   destination.

Each attempt collects a fresh input: `Collected.position` starts at 0 again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from kilopbx.apps.ring_groups.destinations import EXTENSION, HANGUP_DESTINATION, Destination

INVALID_PROMPT = "ivr-invalid"
CHECK_VOICEMAIL = "voicemail-listen"  # a Done destination's kind: the voicemail menu
DIAL_OUT = "outbound"  # a Done destination's kind: a number to dial outside
VOICEMAIL_CODES = ("*97", "*98")
END_OF_INPUT = "#"
MAX_INPUT = 24  # keys: longer input is invalid (no number is this long, E.164's 15 and a prefix)


@dataclass(frozen=True)
class MenuSettings:
    """An IVR as one call sees it (a call keeps the settings it entered with)."""

    number: str
    prompt: str
    prompt_repeat: int
    response_timeout: float
    digit_timeout: float
    dial_extensions: bool
    check_voicemail: bool = False
    dial_out: bool = False
    keys: Mapping[str, Destination] = field(default_factory=dict)
    timeout: Destination = HANGUP_DESTINATION
    invalid: Destination = HANGUP_DESTINATION


# -- actions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Play:
    prompts: tuple[str, ...]  # in order; a key cuts them all short


@dataclass(frozen=True)
class StopPrompt:
    pass


@dataclass(frozen=True)
class Arm:
    at: float  # the timer fires at this time (one timer; arming replaces it)


@dataclass(frozen=True)
class Collected:
    digit: str
    position: int
    entered: str


@dataclass(frozen=True)
class Done:
    destination: Destination
    why: str  # "key", "extension", "timeout", "invalid"


Action = Play | StopPrompt | Arm | Collected | Done


class IvrMenu:
    """``is_extension(number)``: dial-by-extension may reach it; ``extends(prefix)``:
    some such extension number is longer and starts with ``prefix``."""

    def __init__(
        self,
        settings: MenuSettings,
        is_extension: Callable[[str], bool],
        extends: Callable[[str], bool],
    ) -> None:
        self.settings = settings
        self.is_extension = is_extension
        self.extends = extends
        self.attempt = 0
        self.entered = ""
        self.playing = False
        self.done = False
        self.timer_at: float | None = None

    def start(self, now: float) -> list[Action]:
        return self._attempt((), now)

    def prompt_ended(self, now: float) -> list[Action]:
        if self.done or not self.playing:
            return []
        self.playing = False
        if self.entered:
            return []  # the key that cut it short armed its own timer
        return self._arm(now + self.settings.response_timeout)

    def digit(self, digit: str, now: float) -> list[Action]:
        if self.done:
            return []
        actions: list[Action] = []
        if self.playing:
            self.playing = False
            actions.append(StopPrompt())
        if digit == END_OF_INPUT and self.entered:
            return actions + self._resolve(now)
        self.entered += digit
        actions.append(Collected(digit, len(self.entered) - 1, self.entered))
        if len(self.entered) >= MAX_INPUT or digit == END_OF_INPUT:
            return actions + self._resolve(now)
        if self._may_continue():
            return actions + self._arm(now + self.settings.digit_timeout)
        return actions + self._resolve(now)

    def timer(self, now: float) -> list[Action]:
        if self.done or self.timer_at is None or now < self.timer_at:
            return []
        self.timer_at = None
        if self.entered:
            return self._resolve(now)
        return self._next_attempt((), "timeout", self.settings.timeout, now)

    # -- inside ------------------------------------------------------------------------

    def _may_continue(self) -> bool:
        """Could more keys still make a valid input?"""
        if self.settings.check_voicemail and any(
            code.startswith(self.entered) and code != self.entered for code in VOICEMAIL_CODES
        ):
            return True
        if self.settings.dial_out and self.entered.isdigit():
            return True  # an outside number may be longer still
        if not self.settings.dial_extensions:
            return False
        return self.extends(self.entered)

    def _resolve(self, now: float) -> list[Action]:
        entered = self.entered
        destination = self.settings.keys.get(entered) if len(entered) == 1 else None
        if destination is not None:
            return self._finish(destination, "key")
        if self.settings.check_voicemail and entered in VOICEMAIL_CODES:
            return self._finish(Destination(CHECK_VOICEMAIL, entered), "voicemail")
        if self.settings.dial_extensions and self.is_extension(entered):
            return self._finish(Destination(EXTENSION, entered), "extension")
        if self.settings.dial_out and entered.isdigit() and not self.is_extension(entered):
            return self._finish(Destination(DIAL_OUT, entered), "outside")
        return self._next_attempt((INVALID_PROMPT,), "invalid", self.settings.invalid, now)

    def _next_attempt(
        self, before: tuple[str, ...], why: str, last: Destination, now: float
    ) -> list[Action]:
        if self.attempt >= self.settings.prompt_repeat:
            return self._finish(last, why)
        return self._attempt(before, now)

    def _attempt(self, before: tuple[str, ...], now: float) -> list[Action]:
        self.attempt += 1
        self.entered = ""
        self.playing = True
        self.timer_at = None
        return [Play((*before, self.settings.prompt))]

    def _arm(self, at: float) -> list[Action]:
        self.timer_at = at
        return [Arm(at)]

    def _finish(self, destination: Destination, why: str) -> list[Action]:
        self.done = True
        self.timer_at = None
        return [Done(destination, why)]
