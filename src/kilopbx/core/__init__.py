"""The bottom of the tree: what the composition root and every feature share (the
feature protocol, the service registry, domain errors). Imports nothing from KiloPBX."""
