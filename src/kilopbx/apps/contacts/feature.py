"""Company contacts feature: the contact service and its endpoints; the contact list
starts empty."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from kilopbx.apps.contacts import endpoints  # noqa: F401
from kilopbx.apps.contacts.service import CONTACTS, ContactService
from kilopbx.core.registry import Need

if TYPE_CHECKING:
    from kilopbx.engine.host import Host


class Feature:
    needs: ClassVar[tuple[Need, ...]] = ()
    provides: ClassVar[tuple[Need, ...]] = (CONTACTS,)

    def __init__(self, pbx: Host) -> None:
        self.pbx = pbx
        pbx.registry.provide(CONTACTS, ContactService(pbx))

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass
