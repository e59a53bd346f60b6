"""One object per key, made on first use and forgotten with its key: process-wide locks
keyed by event loop, which must not outlive the loop they were made in. (Services are
not found this way: features publish them in the registry, `kilopbx.core.registry`.)"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class OnePer(Generic[K, V]):
    """`one_per(key)`: the object made by `make(key)` the first time `key` asked."""

    def __init__(self, make: Callable[[K], V]) -> None:
        self._make = make
        self._made: weakref.WeakKeyDictionary[K, V] = weakref.WeakKeyDictionary()

    def __call__(self, key: K) -> V:
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = self._make(key)
        return made
