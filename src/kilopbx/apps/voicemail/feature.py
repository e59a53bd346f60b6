"""Voicemail feature: leaving messages (the "voicemail" call application, also an
inbound route destination), listening by feature code, and the voicemail API (query,
delete, downloads) on boxes under `<data>/voicemail/`."""

from __future__ import annotations

from typing import ClassVar

from kilopbx.apps.cdr.downloads import DownloadGrants
from kilopbx.apps.ivr.prompts import PromptSources
from kilopbx.apps.voicemail import endpoints as _endpoints  # noqa: F401 (registers)
from kilopbx.apps.voicemail.deposit import KIND, VoicemailApplication
from kilopbx.apps.voicemail.endpoints import VOICEMAIL_DOWNLOADS
from kilopbx.apps.voicemail.listen import VoicemailListening
from kilopbx.apps.voicemail.service import VOICEMAIL, VoicemailService
from kilopbx.apps.voicemail.store import VoicemailStore
from kilopbx.core.registry import Need
from kilopbx.engine.app_inbound import ApplicationDestination
from kilopbx.engine.applications import CALL_APPLICATIONS
from kilopbx.engine.host import Host
from kilopbx.engine.routing import DIRECTORY
from kilopbx.engine.trunk_calls import INBOUND_DESTINATIONS


class Feature:
    needs: ClassVar[tuple[Need, ...]] = (DIRECTORY,)
    # INBOUND_DESTINATIONS: an inbound route's "voicemail" destination (a box)
    provides: ClassVar[tuple[Need, ...]] = (
        VOICEMAIL, CALL_APPLICATIONS, INBOUND_DESTINATIONS, VOICEMAIL_DOWNLOADS
    )  # fmt: skip

    def __init__(self, pbx: Host) -> None:
        self.pbx = pbx
        directory = pbx.registry.get(DIRECTORY)
        self.store = VoicemailStore(pbx.settings.data_dir.resolve() / "voicemail")
        pbx.registry.provide(VOICEMAIL, VoicemailService(self.store, directory))
        pbx.registry.provide(VOICEMAIL_DOWNLOADS, DownloadGrants(pbx.clock))
        prompts = PromptSources(pbx.settings.data_dir)
        self.application = VoicemailApplication(
            self.store, directory, prompts, pbx.clock.now, pbx.db
        )
        self.listening = VoicemailListening(self.store, prompts, pbx.db)

    async def start(self) -> None:
        self.pbx.registry.contribute(CALL_APPLICATIONS, self.application)
        self.pbx.registry.contribute(CALL_APPLICATIONS, self.listening)
        self.pbx.registry.contribute(INBOUND_DESTINATIONS, ApplicationDestination(KIND))

    async def stop(self) -> None:
        pass
