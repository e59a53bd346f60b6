"""Message-waiting indication feature: SUBSCRIBE to `message-summary` and the NOTIFYs
that follow every change of a mailbox (see `mwi_notifier`)."""

from __future__ import annotations

from typing import ClassVar

from kilopbx.apps.voicemail.mwi_notifier import MwiNotifier
from kilopbx.apps.voicemail.mwi_saved import FILE_NAME
from kilopbx.apps.voicemail.service import VOICEMAIL
from kilopbx.core.registry import Key, Need
from kilopbx.engine.host import Host
from kilopbx.engine.routing import DIRECTORY, REGISTRATIONS
from kilopbx.engine.sip_auth import SIP_AUTH
from kilopbx.engine.sip_service import SIP, SIP_METHODS, SipMethod

MWI: Key[MwiNotifier] = Key("message-waiting indication")


class Feature:
    needs: ClassVar[tuple[Need, ...]] = (SIP, SIP_AUTH, REGISTRATIONS, DIRECTORY, VOICEMAIL)
    provides: ClassVar[tuple[Need, ...]] = (SIP_METHODS, MWI)

    def __init__(self, pbx: Host) -> None:
        self.pbx = pbx
        self.notifier: MwiNotifier | None = None

    async def start(self) -> None:
        registry = self.pbx.registry
        store = registry.get(VOICEMAIL).store
        self.notifier = MwiNotifier(
            registry.get(SIP),
            registry.get(SIP_AUTH),
            registry.get(REGISTRATIONS),
            registry.get(DIRECTORY),
            store,
            self.pbx.clock,
            saved=store.root / FILE_NAME,
        )
        store.watchers.append(self.notifier.changed)
        await self.notifier.restore()
        self.notifier.start()
        registry.provide(MWI, self.notifier)
        registry.contribute(SIP_METHODS, SipMethod("SUBSCRIBE", self.notifier.on_subscribe))

    async def stop(self) -> None:
        if self.notifier is not None:
            await self.notifier.stop()
