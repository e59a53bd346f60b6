from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

import kilopbx
from kilopbx.store.database import create_engine, migrate, session_factory

# Modules that hand the engine or the SIP stack duck-typed stand-ins (a fake transaction,
# a SimpleNamespace stack, a monkeypatched method). A mypyc-compiled module checks at run
# time that an argument is of the class it names, so these run against the sources
# only: `make test` runs every unit test a second time as pure Python
# (KILOPBX_PURE_PYTHON=1), and the first, compiled pass leaves these out.
NEEDS_PURE_PYTHON = [
    "core/test_outbox_reporter.py",
    "engine/test_answer_order.py",
    "engine/test_call_engine_invites.py",
    "engine/test_call_leg.py",
    "engine/test_caller_id.py",
    "engine/test_outside_numbers.py",
    "engine/test_parking_lot.py",
    "engine/test_session_keeper.py",
    "engine/test_trunk_door.py",
    "engine/test_trunk_invite.py",
    "registrar/test_feature.py",
    "registrar/test_handler.py",
    "registrar/test_handler_hardening.py",
    "registrar/test_security_qualify.py",
    "registrar/test_store_durability.py",
    "sip/test_merged_requests.py",
    "sip/test_message_views.py",
    "sip/test_transaction_driver.py",
    "sip/test_transaction_remnant.py",
    "test_route_pin.py",
]
collect_ignore = NEEDS_PURE_PYTHON if kilopbx.BUILD == "compiled" else []


@pytest.fixture
def utc() -> Iterator[None]:
    """Spec times are the PBX's local time; tests pin the zone to UTC."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "pbx.db"


@pytest.fixture
async def db(db_path: Path) -> AsyncIterator[async_sessionmaker]:
    """A migrated SQLite store in a temporary file, as the service runs it."""
    engine = create_engine(f"sqlite+aiosqlite:///{db_path}")
    await migrate(engine)
    yield session_factory(engine)
    await engine.dispose()
