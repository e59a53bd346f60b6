"""Feature that opens the PBX's SIP port (UDP and TCP on ``settings.sip_port``).

Listed in ``kilopbx.features`` after every feature that handles SIP methods, so the
registrar (and later the call engine) are in place before the first packet.
"""

from __future__ import annotations

import gc
from typing import Any

from kilopbx.engine.sip_service import sip_service

# Full collections walk every live object; under SIP load the heap is mostly UDP
# server transactions waiting out Timer J (32 s), and with the default third
# threshold (10) a full pass of a few hundred ms ran every few seconds and delayed
# answers past the clients' 500 ms retransmission timer. Measured in
# docs/decisions-registrar.md; young generations are left as they are.
FULL_COLLECTION_THRESHOLD = 100


def tune_garbage_collector() -> None:
    first, second, third = gc.get_threshold()
    gc.set_threshold(first, second, max(third, FULL_COLLECTION_THRESHOLD))


class Feature:
    def __init__(self, pbx: Any) -> None:
        self.pbx = pbx
        self.service = sip_service(pbx)

    async def start(self) -> None:
        settings = self.pbx.settings
        await self.service.start(settings.bind, settings.sip_port)
        tune_garbage_collector()

    async def stop(self) -> None:
        await self.service.stop()
