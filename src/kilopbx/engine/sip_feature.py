"""Feature that opens the PBX's SIP port (UDP and TCP on ``settings.sip_port``).

Listed in ``kilopbx.features`` after every feature that handles SIP methods, so the
registrar (and later the call engine) are in place before the first packet.

The garbage collector keeps its default thresholds: completed transactions are
compacted by the stack (``kilopbx.sip.transaction_remnant``), so full collections
under REGISTER load stay well below the clients' 500 ms retransmission timer
(measured in docs/decisions-registrar.md, "Performance").
"""

from __future__ import annotations

from typing import Any

from kilopbx.engine.sip_service import sip_service


class Feature:
    def __init__(self, pbx: Any) -> None:
        self.pbx = pbx
        self.service = sip_service(pbx)

    async def start(self) -> None:
        settings = self.pbx.settings
        await self.service.start(settings.bind, settings.sip_port)

    async def stop(self) -> None:
        await self.service.stop()
