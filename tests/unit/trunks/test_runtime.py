"""The trunks' runtime without sockets: profiles, identify, targets, failover order,
workers started and stopped as trunks change, and the live state."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace

from kilopbx.apps.trunks.line_config import TrunkConfig
from kilopbx.apps.trunks.resolver import Record, SipResolver
from kilopbx.apps.trunks.runtime import TrunkRuntime
from kilopbx.engine.trunking import TrunkTarget
from tests.unit.trunks.helpers import config

EVENTS: list[str] = []


@dataclass
class FakeWorker:
    config: TrunkConfig
    status: str = "Registering"
    addresses: frozenset[tuple[str, int]] = frozenset()
    preferred: TrunkTarget | None = None
    started: bool = False
    farewells: list[bool] = field(default_factory=list)

    def start(self) -> None:
        self.started = True
        EVENTS.append(f"start {self.config.name}")

    async def stop(self, *, farewell: bool) -> None:
        await asyncio.sleep(0)  # an un-REGISTER takes a while
        self.farewells.append(farewell)
        EVENTS.append(f"stop {self.config.name}")


class Harness:
    def __init__(self) -> None:
        self.now = 0.0
        self.configs: list[TrunkConfig] = []
        self.workers: list[FakeWorker] = []

        async def no_dns(name: str, rdtype: str) -> tuple[list[Record], float]:
            return [], 0.0

        self.runtime = TrunkRuntime(
            SipResolver(no_dns, lambda: self.now),
            lambda: self.now,
            load=self.load,
            make_worker=self.make,
        )

    async def load(self) -> list[TrunkConfig]:
        return list(self.configs)

    def make(self, config: TrunkConfig) -> FakeWorker | None:
        if config.kind == "account":
            return None
        worker = FakeWorker(config)
        self.workers.append(worker)
        return worker


async def test_peer_trunks_by_ip_literal() -> None:
    h = Harness()
    h.configs = [config(1, "HQ", host="192.0.2.10", port=5062)]
    await h.runtime.reload()
    rt = h.runtime
    profile = rt.profile("HQ")
    assert profile is not None and profile.kind == "peer"
    assert rt.profile("nope") is None
    assert rt.identify("192.0.2.10", 5062) is profile
    assert rt.identify("192.0.2.10", 5060) is None  # right address, wrong port
    assert rt.identify("192.0.2.11", 5062) is None
    assert await rt.targets("HQ") == [TrunkTarget("192.0.2.10", 5062, "udp")]
    assert await rt.targets("nope") == []
    assert "secret-pw" not in repr(profile) and "secret-pw" not in repr(h.configs[0])


async def test_register_trunks_are_identified_by_their_provider_addresses() -> None:
    h = Harness()
    h.configs = [config(1, "Carrier", "register", host="192.0.2.20")]
    await h.runtime.reload()
    h.workers[0].addresses = frozenset({("192.0.2.20", 5060)})
    found = h.runtime.identify("192.0.2.20", 5099)
    assert found is not None and found.name == "Carrier"
    assert h.runtime.identify("192.0.2.21", 5060) is None


async def test_a_reported_dead_target_is_tried_last_until_it_recovers() -> None:
    h = Harness()
    h.configs = [config(1, "P", outbound_proxy="192.0.2.50:5070")]
    await h.runtime.reload()
    rt = h.runtime
    first = (await rt.targets("P"))[0]
    assert first == TrunkTarget("192.0.2.50", 5070, "udp")
    rt.report("P", first, False)
    assert await rt.targets("P") == [first]  # still offered: it is the only one
    h.now += 61
    rt.report("P", first, True)
    assert await rt.targets("P") == [first]


async def test_workers_follow_changes() -> None:
    h = Harness()
    h.configs = [config(1, "A", "register"), config(2, "B")]
    await h.runtime.reload()
    assert [w.started for w in h.workers] == [True, True]
    assert h.runtime.status(1, "register") == "Registering"
    # a rename keeps the worker; a password change restarts the registration
    h.configs = [replace(config(1, "A2", "register"), password="new"), config(2, "B")]
    EVENTS.clear()
    await h.runtime.reload()
    assert not h.workers[2].started  # not before the old binding said goodbye
    await h.runtime.settled()
    assert len(h.workers) == 3 and h.workers[0].farewells == [True]
    assert EVENTS == ["stop A", "start A2"]
    assert h.runtime.profile("A") is None and h.runtime.profile("A2") is not None
    # disabled: stopped with a farewell, and no targets
    h.configs = [h.configs[0], replace(config(2, "B"), enabled=False)]
    await h.runtime.reload()
    await h.runtime.settled()
    assert h.workers[1].farewells == [True]
    assert await h.runtime.targets("B") == []
    await h.runtime.stop()
    assert h.workers[2].farewells == [True]


async def test_status_before_the_first_load_and_of_account_trunks() -> None:
    h = Harness()
    assert h.runtime.status(9, "register") == "Registering"
    assert h.runtime.status(9, "peer") == "Unknown"
    h.configs = [config(3, "Acc", "account")]
    await h.runtime.reload()
    assert h.runtime.status(3, "account") == "Unknown"
    assert await h.runtime.targets("Acc") == []


async def test_claimed_names_the_trunk_of_a_provider_host_or_domain() -> None:
    h = Harness()
    h.configs = [
        config(1, "A", "register", host="sip.carrier.example", domain="carrier.example"),
        replace(config(2, "B", host="192.0.2.30"), enabled=False),
    ]
    await h.runtime.reload()
    a = h.runtime.claimed("Carrier.Example")
    assert a is not None and a.name == "A"
    assert h.runtime.claimed("sip.carrier.example.") is a
    assert h.runtime.claimed("192.0.2.30") is None  # disabled
    assert h.runtime.claimed("") is None
    # a request from elsewhere claiming A is not placed on A
    assert h.runtime.identify("198.51.100.7", 5060) is None


async def test_a_call_right_after_a_change_waits_for_it_to_load() -> None:
    h = Harness()
    await h.runtime.start()
    try:
        h.configs = [config(1, "New", host="192.0.2.40")]
        h.runtime.changed()
        assert await h.runtime.targets("New") == [TrunkTarget("192.0.2.40", 5060, "udp")]
    finally:
        await h.runtime.stop()


async def test_targets_start_where_the_trunk_is_registered_and_dead_ones_go_last() -> None:
    h = Harness()

    async def dns(name: str, rdtype: str) -> tuple[list[Record], float]:
        return (["192.0.2.1", "192.0.2.2"], 60) if rdtype == "A" else ([], 0)

    h.runtime.resolver = SipResolver(dns, lambda: h.now)
    h.configs = [config(1, "Multi", "register", host="multi.example", port=5080)]
    await h.runtime.reload()
    one, two = TrunkTarget("192.0.2.1", 5080, "udp"), TrunkTarget("192.0.2.2", 5080, "udp")
    assert await h.runtime.targets("Multi") == [one, two]
    h.workers[0].preferred = two
    assert await h.runtime.targets("Multi") == [two, one]
    h.runtime.report("Multi", two, False)
    assert await h.runtime.targets("Multi") == [one, two]
    h.now += 61  # the mark wears off
    assert await h.runtime.targets("Multi") == [two, one]


async def test_identify_follows_new_addresses_of_a_peer() -> None:
    h = Harness()
    h.configs = [config(1, "Named", host="gw.example", port=5062)]
    await h.runtime.reload()
    assert h.runtime.identify("192.0.2.77", 5062) is None
    h.workers[0].addresses = frozenset({("192.0.2.77", 5062)})
    h.runtime.addresses_changed()
    found = h.runtime.identify("192.0.2.77", 5062)
    assert found is not None and found.name == "Named"
