"""Hotel wake-up calls feature: endpoints and extension clean-up."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from kilopbx.apps.extensions.references import follow_extension_columns
from kilopbx.apps.extensions.service import EXTENSIONS
from kilopbx.apps.hotel import endpoints as _endpoints  # noqa: F401 (registers)
from kilopbx.apps.hotel.models import WakeupCall
from kilopbx.apps.hotel.service import WAKEUP_CALLS, WakeupService
from kilopbx.core.registry import Need

if TYPE_CHECKING:
    from kilopbx.engine.host import Host


class Feature:
    needs: ClassVar[tuple[Need, ...]] = (EXTENSIONS,)
    provides: ClassVar[tuple[Need, ...]] = (WAKEUP_CALLS,)

    def __init__(self, pbx: Host) -> None:
        self.pbx = pbx
        self.service = pbx.registry.provide(
            WAKEUP_CALLS, WakeupService(pbx.db, pbx.settings.data_dir)
        )

    async def start(self) -> None:
        follow_extension_columns(self.pbx, WakeupCall.extension)

    async def stop(self) -> None:
        pass
