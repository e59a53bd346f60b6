"""Time conditions feature: business hours used by inbound routes."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from kilopbx.apps.timeconditions import endpoints  # noqa: F401  (registers the endpoints)
from kilopbx.apps.timeconditions.service import TimeConditionService

if TYPE_CHECKING:
    from kilopbx.pbx import Pbx

DEFAULT_MAX_CONDITIONS = 1000


class Feature:
    def __init__(self, pbx: Pbx) -> None:
        limit = int(os.environ.get("KILOPBX_MAX_TIME_CONDITIONS", DEFAULT_MAX_CONDITIONS))
        self.service = TimeConditionService(pbx.db, pbx.clock, max_conditions=limit)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass
