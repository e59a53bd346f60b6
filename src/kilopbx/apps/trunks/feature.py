"""Trunks feature: the trunk service, its endpoints, and its part in extension deletes."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from kilopbx.apps.trunks import endpoints  # noqa: F401  (registers the trunk endpoints)
from kilopbx.apps.trunks.other_objects import OtherObjects
from kilopbx.apps.trunks.service import TrunkService
from kilopbx.apps.trunks.wiring import watch_extension_groups, watch_extensions

if TYPE_CHECKING:
    from kilopbx.pbx import Pbx

log = logging.getLogger(__name__)

# 30-trunks.md proposes 128; KiloPBX must carry at least 200 (issue 3), so 512
DEFAULT_MAX_TRUNKS = 512


class Feature:
    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        self.other_objects = OtherObjects(pbx.directory)
        max_trunks = int(os.environ.get("KILOPBX_MAX_TRUNKS", DEFAULT_MAX_TRUNKS))
        self.service = TrunkService(pbx.db, pbx.bus, self.other_objects, max_trunks=max_trunks)

    async def start(self) -> None:
        service = self.service
        if not watch_extensions(self.pbx, service.forget_extensions, service.renumber_extension):
            log.warning("no extensions service: DOD bindings do not follow extension deletes")
        if not watch_extension_groups(self.pbx, service.forget_group):
            log.warning("no extension group service: DOD bindings do not follow group deletes")

    async def stop(self) -> None:
        pass
