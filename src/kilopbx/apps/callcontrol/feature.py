"""Call control endpoints over the engine's ``CALL_CONTROL``, which may be absent."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from kilopbx.apps.callcontrol import endpoints as _endpoints  # noqa: F401 (registers)
from kilopbx.core.registry import Need

if TYPE_CHECKING:
    from kilopbx.engine.host import Host


class Feature:
    needs: ClassVar[tuple[Need, ...]] = ()
    provides: ClassVar[tuple[Need, ...]] = ()

    def __init__(self, pbx: Host) -> None:
        self.pbx = pbx

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass
