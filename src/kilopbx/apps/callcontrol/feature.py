"""Call control: the API endpoints over the engine's ``CALL_CONTROL`` (which may be
absent), and the extension settings that phones change by feature code
(``PHONE_SETTINGS``, asked by the call engine)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from kilopbx.apps.callcontrol import endpoints as _endpoints  # noqa: F401 (registers)
from kilopbx.apps.callcontrol import listen_endpoints as _listen  # noqa: F401 (registers)
from kilopbx.apps.callcontrol.phone_settings import ExtensionPhoneSettings
from kilopbx.apps.extensions.service import EXTENSIONS
from kilopbx.core.registry import Need
from kilopbx.engine.feature_codes import PHONE_SETTINGS

if TYPE_CHECKING:
    from kilopbx.engine.host import Host


class Feature:
    needs: ClassVar[tuple[Need, ...]] = (EXTENSIONS,)
    provides: ClassVar[tuple[Need, ...]] = (PHONE_SETTINGS,)

    def __init__(self, pbx: Host) -> None:
        self.pbx = pbx

    async def start(self) -> None:
        settings = ExtensionPhoneSettings(self.pbx.registry.get(EXTENSIONS))
        self.pbx.registry.provide(PHONE_SETTINGS, settings)

    async def stop(self) -> None:
        pass
