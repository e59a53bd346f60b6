"""The internal event bus: state changes are published here, reporters observe.

Publishing never blocks and never fails the publisher: subscribers are plain callables
that must only queue work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from kilopbx.events.types import Event

log = logging.getLogger(__name__)

Subscriber = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def publish(self, event: Event) -> None:
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception:
                log.exception("event subscriber failed on %s", event.name)
