"""Feature that opens the PBX's SIP port (UDP and TCP on ``settings.sip_port``).

It needs the ``SIP_METHODS`` point, so it starts after every feature that handles a
SIP method (the registrar, later the call engine): their handlers are registered here,
before the first packet can arrive.

The garbage collector keeps its default thresholds: completed transactions are
compacted by the stack (``kilopbx.sip.transaction_remnant``), so full collections
under REGISTER load stay well below the clients' 500 ms retransmission timer
(measured in docs/decisions-registrar.md, "Performance").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from kilopbx.core.registry import Need
from kilopbx.engine.sip_service import SIP, SIP_METHODS

if TYPE_CHECKING:
    from kilopbx.engine.host import Host


class Feature:
    needs: ClassVar[tuple[Need, ...]] = (SIP, SIP_METHODS)
    provides: ClassVar[tuple[Need, ...]] = ()

    def __init__(self, pbx: Host) -> None:
        self.pbx = pbx
        self.service = pbx.registry.get(SIP)

    async def start(self) -> None:
        for contribution in self.pbx.registry.contributions(SIP_METHODS):
            self.service.register_method(contribution.method, contribution.handler)
        settings = self.pbx.settings
        await self.service.start(settings.bind, settings.sip_port)

    async def stop(self) -> None:
        await self.service.stop()
        for contribution in self.pbx.registry.contributions(SIP_METHODS):
            self.service.unregister_method(contribution.method)
