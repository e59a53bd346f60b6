"""The garbage collector's settings for a long-running signalling process.

CPython's cyclic collector runs after every 700 net container allocations, and every
so often walks the whole heap. After start-up the heap holds tens of thousands of
long-lived objects (modules, the ORM's mappings, features, caches) that will never be
garbage: ``settle`` collects once and freezes them (``gc.freeze``), so no later
collection walks them again. Per-message objects are mostly freed by reference
counting; a larger first-generation threshold lets the collector run less often for
the few that are not, each run seeing the same young objects it would otherwise see
in several runs.

Imports nothing of KiloPBX: the composition root calls it once the process is up.
"""

from __future__ import annotations

import gc

# Net container allocations between first-generation collections (CPython: 700), and
# how many of those before a second- and a third-generation one (CPython: 10, 10).
YOUNG_THRESHOLD = 20_000
MIDDLE_EVERY = 10
OLD_EVERY = 10


def settle() -> int:
    """Collect, then move every object alive now out of the collector's sight.
    Returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_EVERY, OLD_EVERY)
    return gc.get_freeze_count()
