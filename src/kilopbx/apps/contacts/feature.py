"""Company contacts feature: registers the endpoints; the directory starts empty."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kilopbx.apps.contacts import endpoints  # noqa: F401

if TYPE_CHECKING:
    from kilopbx.pbx import Pbx


class Feature:
    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass
