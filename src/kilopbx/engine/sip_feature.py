"""Feature that builds the PBX's SIP service and publishes it as ``SIP``.

The service does not listen yet: the SIP port feature (``kilopbx.engine.sip_port``)
opens UDP and TCP once every feature that handles SIP methods has started.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from kilopbx.core.registry import Need
from kilopbx.engine.sip_service import SIP, SipService, transport_limits

if TYPE_CHECKING:
    from kilopbx.engine.host import Host


class Feature:
    needs: ClassVar[tuple[Need, ...]] = ()
    provides: ClassVar[tuple[Need, ...]] = (SIP,)

    def __init__(self, pbx: Host) -> None:
        settings = pbx.settings
        self.service = pbx.registry.provide(
            SIP,
            SipService(
                user_agent=settings.device_name,
                max_transactions=settings.sip_max_transactions,
                max_transactions_per_source=settings.sip_max_transactions_per_source,
                limits=transport_limits(settings),
            ),
        )

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        await self.service.stop()
