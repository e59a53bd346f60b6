"""Random bytes for tags, branches and nonces, read from the kernel in blocks.

A registration needs three random values (two To tags and a nonce) and a call a dozen;
one ``os.urandom`` system call per value cost more than the value is worth. The pool
reads ``BLOCK`` bytes at once and hands out slices; every byte is handed out once, also
to threads asking at the same time (a lock). A child process made by ``fork`` starts
with an empty pool, so it never repeats its parent's values.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Final

__all__ = ["BLOCK", "RandomPool", "random_bytes", "random_hex"]

BLOCK: Final = 4096


class RandomPool:
    __slots__ = ("_block", "_lock", "_offset", "_read", "_size")

    def __init__(self, size: int = BLOCK, read: Callable[[int], bytes] = os.urandom) -> None:
        self._size = size
        self._read = read
        self._block = b""
        self._offset = 0
        self._lock = threading.Lock()

    def take(self, count: int) -> bytes:
        """``count`` bytes nobody else got."""
        if count > self._size:
            return self._read(count)
        with self._lock:
            offset = self._offset
            end = offset + count
            if end > len(self._block):
                self._block = self._read(self._size)
                offset, end = 0, count
            self._offset = end
            return self._block[offset:end]

    def forget(self) -> None:
        """Drop what is left (a forked child must not reuse its parent's bytes); the
        child also gets a fresh lock, in case a parent thread held it at the fork."""
        self._lock = threading.Lock()
        self._block = b""
        self._offset = 0


_POOL: Final = RandomPool()
os.register_at_fork(after_in_child=_POOL.forget)
random_bytes = _POOL.take


def random_hex(count: int) -> str:
    """``count`` random bytes as ``2 * count`` lower-case hex digits."""
    return _POOL.take(count).hex()
