"""PBX features started with the service, in order.

Each entry names a module with a `Feature` class: `Feature(pbx)`, `await start()`,
`await stop()`. A feature registers its API endpoints by importing its endpoint module,
subscribes to the bus, and may fill the `Pbx` hooks (for example `count_extensions`).
"""

FEATURES: list[str] = [
    # extensions first: other features hook into its delete and number-plan lookups
    "kilopbx.apps.extensions.feature",
    "kilopbx.apps.extension_groups.feature",
    "kilopbx.apps.contacts.feature",
    "kilopbx.apps.trunks.feature",
    "kilopbx.apps.timeconditions.feature",
    "kilopbx.apps.routes.feature",
    # group features; the IVR comes last so its default menu can point at the others
    "kilopbx.apps.ring_groups.feature",
    "kilopbx.apps.queues.feature",
    "kilopbx.apps.conferences.feature",
    "kilopbx.apps.paging.feature",
    "kilopbx.apps.hotel.feature",
    "kilopbx.apps.ivr.feature",
    # before the call engine, which hands it its records; closes crash-cut calls at start
    "kilopbx.apps.cdr.feature",
    # after the extensions feature (reads pbx.directory), before the SIP port opens
    "kilopbx.apps.registrar.feature",
    # last: opens UDP/TCP on sip_port once every SIP method handler is registered
    "kilopbx.engine.sip_feature",
]
