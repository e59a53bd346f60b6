"""TCP connections stay trusted only while a registration uses them.

An authenticated REGISTER over TCP makes its connection trusted (it outranks
unauthenticated ones when connection slots run short, and a keep-alive ping counts as
activity). ``TcpTrust`` follows the TCP paths (host, port) of every extension's
bindings and withdraws that trust when the last binding on a path expires, is
unregistered, replaced or dropped: a device that authenticated once must not keep a
privileged connection for ever.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from kilopbx.apps.registrar.core import Binding

Path = tuple[str, int]


class TcpTrust:
    def __init__(
        self, bindings: Callable[[str], list[Binding]], distrust: Callable[[str, int], None]
    ) -> None:
        self._bindings = bindings
        self._distrust = distrust
        self._paths: dict[str, frozenset[Path]] = {}  # extension -> its TCP paths
        self._users: Counter[Path] = Counter()  # path -> extensions using it

    def changed(self, number: str) -> None:
        """The extension's bindings changed (call after every change)."""
        new = frozenset((b.host, b.port) for b in self._bindings(number) if b.transport == "tcp")
        old = self._paths.get(number, frozenset())
        if new == old:
            return
        if new:
            self._paths[number] = new
        else:
            self._paths.pop(number, None)
        for path in new - old:
            self._users[path] += 1
        for path in old - new:
            self._users[path] -= 1
            if self._users[path] <= 0:
                del self._users[path]
                self._distrust(*path)

    @property
    def paths(self) -> int:
        return len(self._users)
