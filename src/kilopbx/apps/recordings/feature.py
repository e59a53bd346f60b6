"""Recordings feature: the recording policy the engine asks (`CALL_RECORDINGS`), the
recordings directory (repaired at start), and the recording download endpoints."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, ClassVar

from kilopbx.apps.cdr.downloads import DownloadGrants
from kilopbx.apps.recordings import endpoints as _endpoints  # noqa: F401 (registers)
from kilopbx.apps.recordings.endpoints import RECORDING_DOWNLOADS
from kilopbx.apps.recordings.service import RECORDINGS, RecordingService
from kilopbx.core.registry import Need
from kilopbx.engine.sounds import CALL_RECORDINGS

if TYPE_CHECKING:
    from kilopbx.engine.host import Host

log = logging.getLogger(__name__)


class Feature:
    needs: ClassVar[tuple[Need, ...]] = ()
    provides: ClassVar[tuple[Need, ...]] = (RECORDINGS, CALL_RECORDINGS, RECORDING_DOWNLOADS)

    def __init__(self, pbx: Host) -> None:
        self.service = RecordingService(pbx.settings.data_dir, pbx.settings_repo)
        pbx.registry.provide(RECORDINGS, self.service)
        pbx.registry.provide(CALL_RECORDINGS, self.service)
        pbx.registry.provide(RECORDING_DOWNLOADS, DownloadGrants(pbx.clock))

    async def start(self) -> None:
        repaired = await asyncio.to_thread(self.service.prepare)
        if repaired:
            log.warning("%d recordings cut short by a crash were repaired", repaired)
        await self.service.load()

    async def stop(self) -> None:
        pass
