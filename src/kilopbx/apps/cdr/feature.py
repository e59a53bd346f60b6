"""CDR feature: closes the calls a crash cut off, keeps open calls stamped, takes the
call engine's records (`CALL_RECORDS`) and serves the CDR download endpoints."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, ClassVar

from kilopbx.apps.cdr import endpoints as _endpoints  # noqa: F401 (registers)
from kilopbx.apps.cdr.downloads import CDR_DOWNLOADS, DownloadGrants
from kilopbx.apps.cdr.service import CDR, SEEN_INTERVAL, CdrService
from kilopbx.core.registry import Need
from kilopbx.events.call_model import CALL_RECORDS

if TYPE_CHECKING:
    from kilopbx.engine.host import Host

log = logging.getLogger(__name__)


class Feature:
    needs: ClassVar[tuple[Need, ...]] = ()
    provides: ClassVar[tuple[Need, ...]] = (CDR, CALL_RECORDS, CDR_DOWNLOADS)

    def __init__(self, pbx: Host) -> None:
        self.pbx = pbx
        self.service = pbx.registry.provide(CDR, CdrService(pbx.db, pbx.bus, pbx.clock))
        pbx.registry.provide(CALL_RECORDS, self.service)
        pbx.registry.provide(CDR_DOWNLOADS, DownloadGrants(pbx.clock))
        self._stamper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.service.close_open_calls_on_start()
        self._stamper = asyncio.get_running_loop().create_task(self._stamp_open_calls())

    async def stop(self) -> None:
        if self._stamper is not None:
            self._stamper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stamper
        with contextlib.suppress(Exception):
            await self.service.keep_alive()
        await self.service.stop()

    async def _stamp_open_calls(self) -> None:
        while True:
            await asyncio.sleep(SEEN_INTERVAL)
            try:
                await self.service.keep_alive()
            except Exception:
                log.exception("could not stamp the open calls")
