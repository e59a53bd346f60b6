"""RegisteredHosts knows the addresses with a live registration, and forgets them."""

from __future__ import annotations

from kilopbx.apps.registrar.core import Binding
from kilopbx.apps.registrar.registered_hosts import RegisteredHosts


def binding(number: str, host: str, port: int = 5060) -> Binding:
    return Binding(number, f"sip:{number}@{host}:{port}", "c", 1, 0.0, "udp", host, port)


def test_a_host_is_known_while_any_extension_is_registered_from_it() -> None:
    table: dict[str, list[Binding]] = {}
    hosts = RegisteredHosts(lambda number: table.get(number, []))
    assert "10.0.0.5" not in hosts and len(hosts) == 0
    # two extensions behind one NAT address, a third elsewhere
    table["2001"] = [binding("2001", "10.0.0.5", 5070)]
    table["2002"] = [binding("2002", "10.0.0.5", 5080), binding("2002", "10.0.0.6")]
    for number in ("2001", "2002"):
        hosts.changed(number)
    assert "10.0.0.5" in hosts and "10.0.0.6" in hosts and len(hosts) == 2
    table["2001"] = []  # expired: 2002 is still registered from there
    hosts.changed("2001")
    assert "10.0.0.5" in hosts
    table["2002"] = [binding("2002", "10.0.0.7")]  # moved
    hosts.changed("2002")
    assert "10.0.0.5" not in hosts and "10.0.0.6" not in hosts and "10.0.0.7" in hosts
    hosts.changed("2002")  # no change: nothing counted twice
    table["2002"] = []
    hosts.changed("2002")
    assert len(hosts) == 0 and 42 not in hosts
