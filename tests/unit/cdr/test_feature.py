"""The CDR feature plugs in through the registry and closes leftover calls at start."""

from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy.ext.asyncio import async_sessionmaker

from kilopbx.apps.cdr.downloads import CDR_DOWNLOADS
from kilopbx.apps.cdr.feature import Feature
from kilopbx.apps.cdr.service import CDR, CdrService
from kilopbx.clock import FakeClock
from kilopbx.core.registry import Registry, check_provided
from kilopbx.events.bus import EventBus
from kilopbx.events.call_events import NewCdr
from kilopbx.events.call_model import CALL_RECORDS, CallType, OpenCallRecord
from kilopbx.events.types import Event


async def test_feature_provides_its_keys_and_closes_leftover_calls(
    db: async_sessionmaker,
) -> None:
    clock = FakeClock()
    await CdrService(db, EventBus(), clock).record_open_call(
        OpenCallRecord(
            call_id="1.1",
            started_at=clock.now(),
            caller="2101",
            callee="2102",
            call_type=CallType.INTERNAL,
        )
    )
    published: list[Event] = []
    bus = EventBus()
    bus.subscribe(published.append)
    host = SimpleNamespace(db=db, bus=bus, clock=clock, registry=Registry())
    feature = Feature(host)  # type: ignore[arg-type]
    await feature.start()
    try:
        check_provided(feature, host.registry)
        assert host.registry.get(CALL_RECORDS) is host.registry.get(CDR)
        assert host.registry.has(CDR_DOWNLOADS)
        assert [e.call_id for e in published if isinstance(e, NewCdr)] == ["1.1"]
    finally:
        await feature.stop()
