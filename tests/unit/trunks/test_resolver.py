"""RFC 3263 resolution (sans DNS): IP literals, NAPTR -> SRV -> A, ports, TTL cache."""

from __future__ import annotations

import random

import pytest

from kilopbx.apps.trunks.resolver import DnsFailure, Naptr, Record, SipResolver, Srv
from kilopbx.engine.trunking import TrunkTarget


class FakeDns:
    def __init__(self, zone: dict[tuple[str, str], tuple[list[Record], float]]) -> None:
        self.zone = zone
        self.asked: list[tuple[str, str]] = []
        self.down = False

    async def __call__(self, name: str, rdtype: str) -> tuple[list[Record], float]:
        self.asked.append((name, rdtype))
        if self.down:
            raise DnsFailure("timeout")
        return self.zone.get((name, rdtype), ([], 0.0))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def resolver(dns: FakeDns, clock: Clock | None = None) -> SipResolver:
    return SipResolver(dns, clock or Clock(), rng=random.Random(7))


async def test_ip_literals_never_touch_dns() -> None:
    dns = FakeDns({})
    r = resolver(dns)
    assert await r.resolve("192.0.2.1", 5070, "udp") == [TrunkTarget("192.0.2.1", 5070, "udp")]
    assert await r.resolve("[2001:db8::1]", 5060, "tcp") == [
        TrunkTarget("2001:db8::1", 5060, "tcp")
    ]
    assert dns.asked == []


async def test_naptr_then_srv_then_addresses_in_priority_order() -> None:
    dns = FakeDns(
        {
            ("example.net", "NAPTR"): (
                [
                    Naptr(10, 10, "s", "SIP+D2T", "_sip._tcp.example.net."),
                    Naptr(20, 10, "s", "SIP+D2U", "_sip._udp.example.net."),
                ],
                300,
            ),
            ("_sip._udp.example.net", "SRV"): (
                [Srv(20, 0, 5090, "b.example.net."), Srv(10, 0, 5080, "a.example.net.")],
                300,
            ),
            ("a.example.net", "A"): (["192.0.2.1"], 300),
            ("b.example.net", "A"): (["192.0.2.2"], 300),
            ("b.example.net", "AAAA"): (["2001:db8::2"], 300),
        }
    )
    found = await resolver(dns).resolve("Example.NET", 5060, "udp")
    assert found == [
        TrunkTarget("192.0.2.1", 5080, "udp"),
        TrunkTarget("192.0.2.2", 5090, "udp"),
        TrunkTarget("2001:db8::2", 5090, "udp"),
    ]


async def test_srv_without_naptr_and_a_records_without_srv() -> None:
    dns = FakeDns(
        {
            ("_sip._tcp.example.net", "SRV"): ([Srv(0, 0, 5099, "x.example.net")], 60),
            ("x.example.net", "A"): (["192.0.2.9"], 60),
            ("plain.example.net", "A"): (["192.0.2.7"], 60),
        }
    )
    r = resolver(dns)
    assert await r.resolve("example.net", 5060, "tcp") == [TrunkTarget("192.0.2.9", 5099, "tcp")]
    assert await r.resolve("plain.example.net", 5060, "udp") == [
        TrunkTarget("192.0.2.7", 5060, "udp")
    ]


async def test_an_explicit_port_skips_naptr_and_srv() -> None:
    dns = FakeDns({("example.net", "A"): (["192.0.2.3"], 60)})
    assert await resolver(dns).resolve("example.net", 5080, "udp") == [
        TrunkTarget("192.0.2.3", 5080, "udp")
    ]
    assert {rdtype for _, rdtype in dns.asked} == {"A", "AAAA"}


async def test_answers_are_cached_for_their_ttl() -> None:
    dns = FakeDns({("example.net", "A"): (["192.0.2.3"], 30)})
    clock = Clock()
    r = resolver(dns, clock)
    await r.resolve("example.net", 5080, "udp")
    asked = len(dns.asked)
    clock.now += 29
    await r.resolve("example.net", 5080, "udp")
    assert len(dns.asked) == asked
    clock.now += 2
    await r.resolve("example.net", 5080, "udp")
    assert len(dns.asked) == 2 * asked


async def test_a_dead_dns_gives_no_targets_and_is_not_asked_on_every_call() -> None:
    dns = FakeDns({})
    dns.down = True
    r = resolver(dns)
    assert await r.resolve("example.net", 5080, "udp") == []
    asked = len(dns.asked)
    assert await r.resolve("example.net", 5080, "udp") == []
    assert len(dns.asked) == asked


@pytest.mark.parametrize("seed", range(5))
def test_srv_weights_order_within_a_priority(seed: int) -> None:
    r = SipResolver(FakeDns({}), Clock(), rng=random.Random(seed))
    records = [Srv(1, 0, 1, "zero"), Srv(1, 100, 2, "heavy"), Srv(0, 5, 3, "first")]
    ordered = r.srv_order(records)
    assert ordered[0].target == "first"
    assert {s.target for s in ordered} == {"zero", "heavy", "first"}


async def test_a_hostile_zone_is_bounded() -> None:
    many = [Srv(0, 1, 5000 + i, f"h{i}.example.net") for i in range(50)]
    zone: dict[tuple[str, str], tuple[list[Record], float]] = {
        ("_sip._udp.example.net", "SRV"): (list(many), 60)
    }
    for i in range(50):
        zone[(f"h{i}.example.net", "A")] = ([f"192.0.2.{j}" for j in range(1, 40)], 60)
    found = await resolver(FakeDns(zone)).resolve("example.net", 5060, "udp")
    assert 0 < len(found) <= 16
