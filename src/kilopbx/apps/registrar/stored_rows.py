"""What the database holds of each extension's bindings, as the store's last commit
wrote them, and whether that covers a set of bindings in memory.

Asked twice per REGISTER (``BindingStore.covers`` and ``note``); apart from the store,
whose writer is a coroutine, so that it is compiled (``scripts/compile.py``).
"""

from __future__ import annotations

from kilopbx.apps.registrar.core import Binding

# what the database holds of one extension: contact -> (transport, host, port, expires_at)
Stored = dict[str, tuple[str, str, int, float]]


def stored_rows(bindings: list[Binding]) -> Stored:
    return {b.uri: (b.transport, b.host, b.port, b.expires_at) for b in bindings}


def holds(stored: Stored | None, bindings: list[Binding], lag: float, longer: bool) -> bool:
    """Do the ``stored`` rows hold exactly these contacts, each at the same address, with
    an expiry at most ``lag`` shorter (and, unless ``longer``, never longer)?"""
    if stored is None:
        return not bindings
    if len(stored) != len(bindings):
        return False
    for binding in bindings:
        row = stored.get(binding.uri)
        if (
            row is None
            or row[3] < binding.expires_at - lag
            or (not longer and row[3] > binding.expires_at)
            or row[2] != binding.port
            or row[1] != binding.host
            or row[0] != binding.transport
        ):
            return False
    return True
