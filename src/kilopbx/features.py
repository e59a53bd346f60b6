"""PBX features started with the service.

Each entry names a module with a `Feature` class that follows
`kilopbx.core.registry.Feature`: built as `Feature(pbx)`, then `await start()`, and
`await stop()` in reverse order. The start order follows what each feature declares it
`needs` and `provides` (`kilopbx.core.registry.start_order`); this list only breaks
ties, so a new feature can go anywhere in it.
"""

FEATURES: list[str] = [
    "kilopbx.apps.extensions.feature",
    "kilopbx.apps.extension_groups.feature",
    "kilopbx.apps.contacts.feature",
    "kilopbx.apps.trunks.feature",
    "kilopbx.apps.timeconditions.feature",
    "kilopbx.apps.routes.feature",
    "kilopbx.apps.ring_groups.feature",
    "kilopbx.apps.queues.feature",
    "kilopbx.apps.conferences.feature",
    "kilopbx.apps.paging.feature",
    "kilopbx.apps.hotel.feature",
    "kilopbx.apps.ivr.feature",
    "kilopbx.apps.voicemail.feature",
    "kilopbx.apps.voicemail.mwi_feature",
    "kilopbx.apps.prompts.feature",
    "kilopbx.apps.calls.feature",
    "kilopbx.apps.callcontrol.feature",
    "kilopbx.apps.cdr.feature",
    "kilopbx.apps.recordings.feature",
    "kilopbx.apps.registrar.feature",
    "kilopbx.engine.sip_feature",
    "kilopbx.engine.calls_feature",
    # needs SIP_METHODS: opens the port after every SIP method handler is contributed
    "kilopbx.engine.sip_port",
]
