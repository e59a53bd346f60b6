"""Internal events with clear Python names; their wire bodies are made at the edge.

`wire_v2()` gives the API 2.0.0 body (key order as the spec tables), `wire_legacy()` the
legacy reports (81-events-legacy.md) the same event becomes. `sn` is appended by the
renderer (`events/render.py`), as the last key. Call events live in `call_events.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from kilopbx.events.legacy_report import LegacyReport

WireBody = dict[str, Any]
Monitored = Callable[[str], bool]


@dataclass(frozen=True)
class Event:
    name: ClassVar[str] = ""

    def fields(self) -> WireBody:
        return {}

    def wire_v2(self) -> WireBody:
        return {"event": self.name, **self.fields()}

    def wire_legacy(self) -> list[LegacyReport]:
        """Default: the same body with the event name under `action`."""
        return [LegacyReport(self.name, head=list(self.fields().items()))]

    def is_monitored(self, extension_monitored: Monitored, trunk_monitored: Monitored) -> bool:
        """The status-monitor filter of conventions §5; most events are not filtered."""
        return True


@dataclass(frozen=True)
class BootUp(Event):
    name: ClassVar[str] = "BootUp"


@dataclass(frozen=True)
class ConfigChange(Event):
    """An extension or trunk was added ("add"), deleted ("del") or modified ("update")."""

    name: ClassVar[str] = "ConfigChange"
    object_type: str  # "extension" | "trunk"
    key: str  # extension number or trunk name
    operation: str  # "add" | "del" | "update"

    def fields(self) -> WireBody:
        key_name = "extid" if self.object_type == "extension" else "trunkname"
        return {"type": self.object_type, key_name: self.key, "operation": self.operation}


@dataclass(frozen=True)
class ExtensionStatus(Event):
    """Registration / line state of an extension (80-events §4.3)."""

    name: ClassVar[str] = "ExtensionStatus"
    extension: str
    status: str  # Ringing | Busy | Idle | Registered | Unregistered
    registered_ip: str | None = None

    def fields(self) -> WireBody:
        body: WireBody = {"extension": self.extension, "status": self.status}
        if self.registered_ip:
            body["registeredIP"] = self.registered_ip
        return body

    def wire_legacy(self) -> list[LegacyReport]:
        head = [("extension", self.extension), ("status", self.status)]
        return [LegacyReport(self.name, head=head)]

    def is_monitored(self, extension_monitored: Monitored, trunk_monitored: Monitored) -> bool:
        return extension_monitored(self.extension)
