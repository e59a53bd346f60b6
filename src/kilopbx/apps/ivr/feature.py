"""IVR feature: endpoints, number plan entry, the default main menu, and the IVR
runtime calls to an IVR number are handed to (`runtime.py`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from kilopbx.apps.conferences.models import ConferenceRoom
from kilopbx.apps.conferences.service import CONFERENCES
from kilopbx.apps.ivr import endpoints as _endpoints  # noqa: F401 (registers)
from kilopbx.apps.ivr.prompts import PromptSources
from kilopbx.apps.ivr.runtime import IvrApplication
from kilopbx.apps.ivr.service import IVR_SERVICE, IVRS, KIND, IvrService
from kilopbx.apps.ivr.wire import IvrChanges, KeyChange
from kilopbx.apps.numberplan import NUMBER_OWNERS, NUMBERS, NumberOwner
from kilopbx.apps.queues.models import Queue
from kilopbx.apps.queues.service import QUEUES_SERVICE
from kilopbx.apps.ring_groups import destinations
from kilopbx.apps.ring_groups.config_store import config_change
from kilopbx.apps.ring_groups.feature_support import create_once
from kilopbx.apps.ring_groups.models import RingGroup
from kilopbx.apps.ring_groups.service import RING_GROUP_SERVICE
from kilopbx.core.registry import Need
from kilopbx.engine.app_inbound import ApplicationDestination
from kilopbx.engine.applications import CALL_APPLICATIONS
from kilopbx.engine.routing import CALL_ROUTING, DIRECTORY
from kilopbx.engine.trunk_calls import INBOUND_DESTINATIONS

if TYPE_CHECKING:
    from kilopbx.engine.host import Host

DEFAULT_NUMBER = "6200"
# the default menu: 1 reception (ring group), 2 support (queue), 3 the meeting room
DEFAULT_KEYS = (
    ("1", destinations.RING_GROUP, RingGroup, "6300"),
    ("2", destinations.QUEUE, Queue, "6400"),
    ("3", destinations.CONFERENCE, ConferenceRoom, "6500"),
)


class Feature:
    # its default menu points at the default ring group, queue and room: they come first
    needs: ClassVar[tuple[Need, ...]] = (
        RING_GROUP_SERVICE,
        QUEUES_SERVICE,
        CONFERENCES,
        NUMBERS,
        DIRECTORY,
    )
    # CALL_APPLICATIONS: calls to an IVR number are answered and run through its menu;
    # INBOUND_DESTINATIONS: so are calls an inbound route sends to an IVR
    provides: ClassVar[tuple[Need, ...]] = (
        IVR_SERVICE,
        NUMBER_OWNERS,
        CALL_APPLICATIONS,
        INBOUND_DESTINATIONS,
    )

    def __init__(self, pbx: Host) -> None:
        self.pbx = pbx
        self.service = pbx.registry.provide(
            IVR_SERVICE, IvrService(pbx.db, pbx.registry.get(NUMBERS))
        )

    async def start(self) -> None:
        registry = self.pbx.registry
        registry.contribute(NUMBER_OWNERS, NumberOwner(KIND, IVRS.holder))
        application = IvrApplication(
            self.service,
            registry.get(DIRECTORY),
            self.pbx.bus,
            self.pbx.clock,
            lambda: registry.contributions(CALL_APPLICATIONS),
            PromptSources(self.pbx.settings.data_dir),
            lambda: registry.find(CALL_ROUTING),  # the routes feature may start later
        )
        registry.contribute(CALL_APPLICATIONS, application)
        registry.contribute(INBOUND_DESTINATIONS, ApplicationDestination(KIND))
        await create_once(self.pbx, KIND, self._create_default)

    async def stop(self) -> None:
        pass

    async def _create_default(self) -> None:
        changes = IvrChanges(name="MainMenu")
        async with config_change(self.pbx.db) as db:
            if await self.pbx.registry.get(NUMBERS).holder(db, DEFAULT_NUMBER) is not None:
                return
            for key, kind, table, number in DEFAULT_KEYS:
                if await db.get(table, number) is not None:
                    changes.keys.append(KeyChange(key, kind, number))
        if changes.keys and changes.keys[0].key == "1":
            # nobody pressed anything: ring reception rather than hang up
            changes.timeout_type, changes.timeout_value = destinations.RING_GROUP, "6300"
        await self.service.add(DEFAULT_NUMBER, changes)
