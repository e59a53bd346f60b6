"""The addresses that have a live registration, for the SIP service's flood defences.

An address a phone registered from is never muted on volume alone
(``kilopbx.sip.udp_pressure``, ``kilopbx.sip.udp_mute``): a forged flood claiming
it must not keep the phone from refreshing its registration. ``RegisteredHosts``
follows every extension's bindings (call ``changed`` after each change) and answers
``host in hosts`` with one dictionary lookup.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from kilopbx.apps.registrar.core import Binding


class RegisteredHosts:
    def __init__(self, bindings: Callable[[str], list[Binding]]) -> None:
        self._bindings = bindings
        self._hosts: dict[str, frozenset[str]] = {}  # extension -> its hosts
        self._users: Counter[str] = Counter()  # host -> extensions registered from it

    def changed(self, number: str) -> None:
        """The extension's bindings changed (or were loaded)."""
        new = frozenset(binding.host for binding in self._bindings(number))
        old = self._hosts.get(number, frozenset())
        if new == old:
            return
        if new:
            self._hosts[number] = new
        else:
            self._hosts.pop(number, None)
        for host in new - old:
            self._users[host] += 1
        for host in old - new:
            self._users[host] -= 1
            if self._users[host] <= 0:
                del self._users[host]

    def __contains__(self, host: object) -> bool:
        return host in self._users

    def __len__(self) -> int:
        return len(self._users)
