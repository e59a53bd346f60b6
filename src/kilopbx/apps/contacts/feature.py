"""Company contacts feature: the contact service and its endpoints; the contact list
starts empty."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from kilopbx.apps.contacts import endpoints  # noqa: F401
from kilopbx.apps.contacts.service import CONTACTS, ContactService
from kilopbx.core.registry import Need

if TYPE_CHECKING:
    from kilopbx.pbx import Pbx


class Feature:
    needs: ClassVar[tuple[Need, ...]] = ()
    provides: ClassVar[tuple[Need, ...]] = (CONTACTS,)

    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        pbx.registry.provide(CONTACTS, ContactService(pbx))

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass
