"""RegistrarCore: bindings, RFC 3261 §10.3 ordering, expiry and status transitions."""

from __future__ import annotations

import pytest

from kilopbx.apps.registrar.core import (
    ExpiryLimits,
    RegisterRequest,
    RegistrarCore,
)
from kilopbx.clock import FakeClock

URI_A = "sip:2001@10.0.0.5:5060"
URI_B = "sip:2001@10.0.0.6:5062"
URI_C = "sip:2001@10.0.0.7:5064"


class Recorder:
    def __init__(self) -> None:
        self.statuses: list[tuple[str, str, str | None]] = []
        self.dirty: list[str] = []

    def status(self, number: str, status: str, ip: str | None) -> None:
        self.statuses.append((number, status, ip))

    def mark(self, number: str) -> None:
        self.dirty.append(number)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def core(clock: FakeClock, rec: Recorder) -> RegistrarCore:
    return RegistrarCore(
        clock, ExpiryLimits(60, 3600, 3600), on_status=rec.status, on_dirty=rec.mark
    )


def req(
    contacts: list[tuple[str, int | None]],
    *,
    call_id: str = "c1",
    cseq: int = 1,
    expires: int | None = None,
    host: str = "10.0.0.5",
    wildcard: bool = False,
    number: str = "2001",
) -> RegisterRequest:
    return RegisterRequest(
        number=number,
        call_id=call_id,
        cseq=cseq,
        contacts=contacts,
        wildcard=wildcard,
        expires=expires,
        transport="udp",
        host=host,
        port=5060,
        user_agent="test-phone",
    )


def test_add_refresh_and_list(core: RegistrarCore, clock: FakeClock, rec: Recorder) -> None:
    result = core.register(req([(URI_A, None)], expires=300), 1)
    assert result.status == 200
    assert [b.uri for b in result.bindings] == [URI_A]
    assert result.bindings[0].remaining(clock.now()) == 300
    assert rec.statuses == [("2001", "Registered", "10.0.0.5")]
    assert rec.dirty == ["2001"]
    clock.advance(100)
    result = core.register(req([(URI_A, None)], cseq=2, expires=300), 1)
    assert result.status == 200
    assert result.bindings[0].remaining(clock.now()) == 300
    assert len(rec.statuses) == 1  # refresh from the same address: no new event
    assert core.is_registered("2001")
    assert core.registered_ip("2001") == "10.0.0.5"


def test_contact_expires_param_wins_over_header(core: RegistrarCore, clock: FakeClock) -> None:
    result = core.register(req([(URI_A, 120), (URI_B, None)], expires=600), 2)
    remaining = {b.uri: b.remaining(clock.now()) for b in result.bindings}
    assert remaining == {URI_A: 120, URI_B: 600}


def test_default_and_maximum_expires(core: RegistrarCore, clock: FakeClock) -> None:
    result = core.register(req([(URI_A, None)]), 1)
    assert result.bindings[0].remaining(clock.now()) == 3600
    result = core.register(req([(URI_A, 99999)], cseq=2), 1)
    assert result.bindings[0].remaining(clock.now()) == 3600


def test_interval_too_brief(core: RegistrarCore, rec: Recorder) -> None:
    result = core.register(req([(URI_A, None)], expires=30), 1)
    assert result.status == 423
    assert ("Min-Expires", "60") in result.headers
    assert core.bindings("2001") == []
    assert rec.statuses == []


def test_remove_with_expires_zero(core: RegistrarCore, rec: Recorder) -> None:
    core.register(req([(URI_A, None), (URI_B, None)], expires=300), 2)
    result = core.register(req([(URI_A, 0)], cseq=2, expires=300), 2)
    assert [b.uri for b in result.bindings] == [URI_B]
    result = core.register(req([(URI_B, None)], cseq=3, expires=0), 2)
    assert result.status == 200 and result.bindings == []
    assert rec.statuses[-1] == ("2001", "Unregistered", None)
    assert not core.is_registered("2001")


def test_wildcard_removes_all(core: RegistrarCore, rec: Recorder) -> None:
    core.register(req([(URI_A, None), (URI_B, None)], expires=300), 3)
    assert core.register(req([], wildcard=True, cseq=2, expires=300), 3).status == 400
    result = core.register(req([], wildcard=True, cseq=2, expires=0), 3)
    assert result.status == 200
    assert core.bindings("2001") == []
    assert [s for _, s, _ in rec.statuses] == ["Registered", "Unregistered"]


def test_wildcard_with_other_contacts_is_bad(core: RegistrarCore) -> None:
    assert core.register(req([(URI_A, None)], wildcard=True, expires=0), 1).status == 400


def test_query_lists_bindings(core: RegistrarCore) -> None:
    core.register(req([(URI_A, None)], expires=300), 1)
    result = core.register(req([], cseq=2), 1)
    assert result.status == 200 and [b.uri for b in result.bindings] == [URI_A]


def test_same_call_id_needs_higher_cseq(core: RegistrarCore) -> None:
    core.register(req([(URI_A, None)], cseq=5, expires=300), 1)
    stale = core.register(req([(URI_A, 0)], cseq=5), 1)
    assert stale.status == 500
    assert core.is_registered("2001")
    older = core.register(req([(URI_A, 0)], cseq=4), 1)
    assert older.status == 500
    # another Call-ID (a rebooted phone) may update whatever its CSeq
    assert core.register(req([(URI_A, None)], call_id="c2", cseq=1, expires=300), 1).status == 200
    assert core.bindings("2001")[0].call_id == "c2"


def test_out_of_order_wildcard_fails(core: RegistrarCore) -> None:
    core.register(req([(URI_A, None)], cseq=5, expires=300), 1)
    assert core.register(req([], wildcard=True, cseq=3, expires=0), 1).status == 500
    assert core.is_registered("2001")


def test_max_registrations_replaces_oldest(core: RegistrarCore, clock: FakeClock) -> None:
    core.register(req([(URI_A, None)], call_id="a", expires=300), 2)
    clock.advance(1)
    core.register(req([(URI_B, None)], call_id="b", host="10.0.0.6", expires=300), 2)
    clock.advance(1)
    result = core.register(req([(URI_C, None)], call_id="c", host="10.0.0.7", expires=300), 2)
    assert result.status == 200
    assert sorted(b.uri for b in result.bindings) == [URI_B, URI_C]
    assert core.registered_ip("2001") == "10.0.0.7"


def test_refresh_of_oldest_keeps_it(core: RegistrarCore, clock: FakeClock) -> None:
    core.register(req([(URI_A, None)], call_id="a", expires=300), 2)
    clock.advance(1)
    core.register(req([(URI_B, None)], call_id="b", expires=300), 2)
    clock.advance(1)
    core.register(req([(URI_A, None)], call_id="a", cseq=2, expires=300), 2)
    clock.advance(1)
    core.register(req([(URI_C, None)], call_id="c", expires=300), 2)
    assert sorted(b.uri for b in core.bindings("2001")) == [URI_A, URI_C]


def test_more_contacts_than_allowed_in_one_request(core: RegistrarCore) -> None:
    result = core.register(req([(URI_A, None), (URI_B, None)], expires=300), 1)
    assert result.status == 403
    assert core.bindings("2001") == []


def test_expiry_removes_binding_and_reports(
    core: RegistrarCore, clock: FakeClock, rec: Recorder
) -> None:
    core.register(req([(URI_A, 60), (URI_B, 120)], expires=300), 2)
    assert core.next_expiry() == clock.now() + 60
    clock.advance(59)
    core.expire()
    assert len(core.bindings("2001")) == 2
    clock.advance(1)
    core.expire()
    assert [b.uri for b in core.bindings("2001")] == [URI_B]
    assert rec.statuses[-1][1] == "Registered"
    clock.advance(60)
    core.expire()
    assert core.bindings("2001") == []
    assert rec.statuses[-1] == ("2001", "Unregistered", None)
    assert core.next_expiry() is None


def test_refresh_moves_expiry(core: RegistrarCore, clock: FakeClock) -> None:
    core.register(req([(URI_A, 60)]), 1)
    clock.advance(50)
    core.register(req([(URI_A, 60)], cseq=2), 1)
    clock.advance(20)
    core.expire()
    assert core.is_registered("2001")
    assert core.next_expiry() == pytest.approx(clock.now() + 40)


def test_address_change_reports_registered_again(core: RegistrarCore, rec: Recorder) -> None:
    core.register(req([(URI_A, None)], expires=300), 1)
    core.register(req([(URI_A, None)], cseq=2, expires=300, host="192.0.2.9"), 1)
    assert rec.statuses == [
        ("2001", "Registered", "10.0.0.5"),
        ("2001", "Registered", "192.0.2.9"),
    ]


def test_unreachable_contacts_fold_into_status(core: RegistrarCore, rec: Recorder) -> None:
    core.register(req([(URI_A, None)], expires=300), 1)
    core.set_reachable("2001", URI_A, False)
    assert not core.is_registered("2001")
    assert rec.statuses[-1] == ("2001", "Unregistered", None)
    core.set_reachable("2001", URI_A, False)
    assert len(rec.statuses) == 2  # no duplicate
    core.set_reachable("2001", URI_A, True)
    assert rec.statuses[-1] == ("2001", "Registered", "10.0.0.5")


def test_drop_and_keep(core: RegistrarCore, clock: FakeClock, rec: Recorder) -> None:
    core.register(req([(URI_A, None)], call_id="a", expires=300), 3)
    clock.advance(1)
    core.register(req([(URI_B, None)], call_id="b", expires=300), 3)
    core.drop("2001", keep=1)
    assert [b.uri for b in core.bindings("2001")] == [URI_B]
    core.drop("2001")
    assert core.bindings("2001") == []
    assert rec.statuses[-1] == ("2001", "Unregistered", None)
    core.drop("2001")  # nothing left: no event
    assert [s for _, s, _ in rec.statuses].count("Unregistered") == 1


def test_load_skips_expired_and_reports_lost(clock: FakeClock, rec: Recorder) -> None:
    first = RegistrarCore(clock, on_status=rec.status)
    first.register(req([(URI_A, 100)]), 1)
    first.register(req([(URI_B, 1000)], number="2002"), 1)
    saved = first.all_bindings()
    clock.advance(200)
    second = RegistrarCore(clock, on_status=rec.status)
    lost = second.load(saved)
    assert lost == ["2001"]
    assert second.is_registered("2002") and not second.is_registered("2001")
    assert second.next_expiry() == pytest.approx(clock.now() + 800)


def test_heap_stays_bounded_under_refreshes(core: RegistrarCore, clock: FakeClock) -> None:
    for cseq in range(1, 20_000):
        clock.advance(0.01)
        core.register(req([(URI_A, None)], cseq=cseq, expires=300), 1)
    assert len(core._heap) < 5000
    assert core.next_expiry() == pytest.approx(clock.now() + 300)
