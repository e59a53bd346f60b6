"""PBX features started with the service, in order.

Each entry names a module with a `Feature` class: `Feature(pbx)`, `await start()`,
`await stop()`. A feature registers its API endpoints by importing its endpoint module,
subscribes to the bus, and may fill the `Pbx` hooks (for example `count_extensions`).
"""

FEATURES: list[str] = [
    "kilopbx.apps.trunks.feature",
]
