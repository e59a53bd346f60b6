"""TcpTrust withdraws a TCP connection's trust when the last binding on it goes."""

from __future__ import annotations

from kilopbx.apps.registrar.core import Binding
from kilopbx.apps.registrar.tcp_trust import TcpTrust


def binding(number: str, port: int, transport: str = "tcp") -> Binding:
    return Binding(
        number, f"sip:{number}@10.0.0.5:{port}", "c", 1, 0.0, transport, "10.0.0.5", port
    )


def test_trust_goes_with_the_last_binding_on_the_path() -> None:
    table: dict[str, list[Binding]] = {}
    withdrawn: list[tuple[str, int]] = []
    trust = TcpTrust(lambda number: table.get(number, []), lambda h, p: withdrawn.append((h, p)))
    # two extensions registered over one connection (a phone with two lines), one over UDP
    table["2001"] = [binding("2001", 5070)]
    table["2002"] = [binding("2002", 5070), binding("2002", 5080, "udp")]
    trust.changed("2001")
    trust.changed("2002")
    assert trust.paths == 1
    table["2001"] = []  # expired or unregistered: 2002 still uses the connection
    trust.changed("2001")
    assert withdrawn == []
    table["2002"] = [binding("2002", 5090)]  # moved to a new connection
    trust.changed("2002")
    assert withdrawn == [("10.0.0.5", 5070)]
    trust.changed("2002")  # nothing changed: nothing happens
    table.pop("2002")
    trust.changed("2002")
    assert withdrawn == [("10.0.0.5", 5070), ("10.0.0.5", 5090)] and trust.paths == 0
