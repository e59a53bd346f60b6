"""Turns one published event into the JSON texts each session format receives.

An event is prepared once (`EventRenderer.prepare`), whatever the number of sessions:
that is where the stateful legacy `CallStatus` translation advances, exactly once per
snapshot. The prepared event then gives its texts per format, each computed at most once.
"""

from __future__ import annotations

from kilopbx.events.call_events import CallStatus, NewCdr
from kilopbx.events.call_events_legacy import LegacyCallTranslator
from kilopbx.events.legacy_report import LegacyReport, encode_body
from kilopbx.events.types import Event
from kilopbx.events.versions import EventFormat


class RenderedEvent:
    def __init__(self, event: Event, legacy: list[LegacyReport], serial: str) -> None:
        self.event = event
        self._legacy = legacy
        self._serial = serial
        self._texts: dict[EventFormat, list[str]] = {}

    def texts(self, fmt: EventFormat) -> list[str]:
        """Zero or more compact JSON bodies, `sn` last, in delivery order."""
        cached = self._texts.get(fmt)
        if cached is None:
            if fmt is EventFormat.V2:
                cached = [encode_body({**self.event.wire_v2(), "sn": self._serial})]
            else:
                cached = [report.encode(fmt, self._serial) for report in self._legacy]
            self._texts[fmt] = cached
        return cached


class EventRenderer:
    def __init__(self, serial: str) -> None:
        self._serial = serial
        self.calls = LegacyCallTranslator()

    def prepare(self, event: Event) -> RenderedEvent:
        if isinstance(event, CallStatus):
            legacy = self.calls.translate(event.call_id, event.members)
        else:
            legacy = event.wire_legacy()
            if isinstance(event, NewCdr):
                self.calls.forget(event.call_id)
        return RenderedEvent(event, legacy, self._serial)


def render_once(event: Event, serial: str) -> RenderedEvent:
    """For events that need no call state (e.g. the `BootUp` a TCP client gets at login)."""
    return RenderedEvent(event, event.wire_legacy(), serial)
