from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kilopbx.apps import numberplan
from kilopbx.apps.extensions.validation import INVALID
from kilopbx.core.errors import DomainError
from tests.unit.wire_errors import wire_errno


@pytest.fixture
def owners() -> Iterator[None]:
    saved = dict(numberplan._owners)
    numberplan._owners.clear()

    async def queues(_db: Any, number: str) -> str | None:
        return 'queue "Sales" (6400)' if number == "6400" else None

    async def extensions(_db: Any, number: str) -> str | None:
        return f"extension {number}" if number in {"1000", "1001"} else None

    numberplan.register_owner("queue", queues)
    numberplan.register_owner("extension", extensions)
    yield
    numberplan._owners.clear()
    numberplan._owners.update(saved)


async def test_free_and_taken_numbers(owners: None) -> None:
    db: Any = None
    assert await numberplan.number_holder(db, "6401") is None
    assert await numberplan.number_holder(db, "6400") == 'queue "Sales" (6400)'
    assert await numberplan.number_holder(db, "1001") == "extension 1001"


async def test_feature_codes_are_reserved(owners: None) -> None:
    db: Any = None
    assert "*97" in numberplan.FEATURE_CODES
    holder = await numberplan.number_holder(db, "*97")
    assert holder == 'feature code "voicemail" (*97)'
    # feature codes cannot be ignored away
    assert await numberplan.number_holder(db, "*97", ignore_kind="extension") is not None


async def test_ignore_own_number_only(owners: None) -> None:
    db: Any = None
    kw = {"ignore_kind": "extension", "ignore_number": "1000"}
    assert await numberplan.number_holder(db, "1000", **kw) is None
    assert await numberplan.number_holder(db, "1001", **kw) == "extension 1001"
    assert await numberplan.number_holder(db, "6400", **kw) is not None


async def test_ignore_whole_kind(owners: None) -> None:
    db: Any = None
    assert await numberplan.number_holder(db, "1001", ignore_kind="extension") is None


async def test_ensure_number_free_names_holder(owners: None) -> None:
    db: Any = None
    await numberplan.ensure_number_free(db, "7000", INVALID)
    with pytest.raises(DomainError) as caught:
        await numberplan.ensure_number_free(db, "6400", INVALID)
    assert wire_errno(caught.value) == "10017"
    assert caught.value.detail == 'number 6400 is used by queue "Sales" (6400)'


def test_feature_code_kind_is_reserved() -> None:
    async def lookup(_db: Any, _number: str) -> str | None:
        return None

    with pytest.raises(ValueError):
        numberplan.register_owner(numberplan.FEATURE_CODE_KIND, lookup)


async def test_lock_is_shared_within_a_loop() -> None:
    assert numberplan.number_plan_lock() is numberplan.number_plan_lock()


async def test_number_kind_names_the_holding_kind(owners: None) -> None:
    db: Any = None
    assert await numberplan.number_kind(db, "6400") == "queue"
    assert await numberplan.number_kind(db, " 1000 ") == "extension"
    assert await numberplan.number_kind(db, "*97") == numberplan.FEATURE_CODE_KIND
    assert await numberplan.number_kind(db, "6401") is None
