from __future__ import annotations

from typing import Any

import pytest

from kilopbx.apps import numberplan
from kilopbx.apps.extensions.validation import INVALID
from kilopbx.core.errors import DomainError
from kilopbx.core.registry import Registry
from tests.unit.wire_errors import wire_errno


@pytest.fixture
def owners() -> numberplan.NumberPlan:
    registry = Registry()

    async def queues(_db: Any, number: str) -> str | None:
        return 'queue "Sales" (6400)' if number == "6400" else None

    async def extensions(_db: Any, number: str) -> str | None:
        return f"extension {number}" if number in {"1000", "1001"} else None

    registry.contribute(numberplan.NUMBER_OWNERS, numberplan.NumberOwner("queue", queues))
    registry.contribute(numberplan.NUMBER_OWNERS, numberplan.NumberOwner("extension", extensions))
    return numberplan.NumberPlan(registry, None)  # type: ignore[arg-type]


async def test_free_and_taken_numbers(owners: numberplan.NumberPlan) -> None:
    db: Any = None
    assert await owners.holder(db, "6401") is None
    assert await owners.holder(db, "6400") == 'queue "Sales" (6400)'
    assert await owners.holder(db, "1001") == "extension 1001"


async def test_feature_codes_are_reserved(owners: numberplan.NumberPlan) -> None:
    db: Any = None
    assert "*97" in numberplan.FEATURE_CODES
    holder = await owners.holder(db, "*97")
    assert holder == 'feature code "voicemail" (*97)'
    # feature codes cannot be ignored away
    assert await owners.holder(db, "*97", ignore_kind="extension") is not None


async def test_ignore_own_number_only(owners: numberplan.NumberPlan) -> None:
    db: Any = None
    kw = {"ignore_kind": "extension", "ignore_number": "1000"}
    assert await owners.holder(db, "1000", **kw) is None
    assert await owners.holder(db, "1001", **kw) == "extension 1001"
    assert await owners.holder(db, "6400", **kw) is not None


async def test_ignore_whole_kind(owners: numberplan.NumberPlan) -> None:
    db: Any = None
    assert await owners.holder(db, "1001", ignore_kind="extension") is None


async def test_ensure_number_free_names_holder(owners: numberplan.NumberPlan) -> None:
    db: Any = None
    await owners.ensure_free(db, "7000", INVALID)
    with pytest.raises(DomainError) as caught:
        await owners.ensure_free(db, "6400", INVALID)
    assert wire_errno(caught.value) == "10017"
    assert caught.value.detail == 'number 6400 is used by queue "Sales" (6400)'


async def test_feature_code_kind_is_reserved(owners: numberplan.NumberPlan) -> None:
    async def lookup(_db: Any, _number: str) -> str | None:
        return None

    owners._registry.contribute(
        numberplan.NUMBER_OWNERS, numberplan.NumberOwner(numberplan.FEATURE_CODE_KIND, lookup)
    )
    with pytest.raises(ValueError):
        await owners.holder(None, "6401")  # type: ignore[arg-type]


async def test_owners_are_composed_and_a_kind_has_one(owners: numberplan.NumberPlan) -> None:
    assert owners.kinds() == ["queue", "extension"]

    async def lookup(_db: Any, _number: str) -> str | None:
        return None

    owners._registry.contribute(numberplan.NUMBER_OWNERS, numberplan.NumberOwner("ivr", lookup))
    assert owners.kinds() == ["queue", "extension", "ivr"]
    owners._registry.contribute(numberplan.NUMBER_OWNERS, numberplan.NumberOwner("queue", lookup))
    with pytest.raises(ValueError, match="two number owners"):
        owners.kinds()


async def test_lock_is_shared_within_a_loop() -> None:
    assert numberplan.number_plan_lock() is numberplan.number_plan_lock()


async def test_number_kind_names_the_holding_kind(owners: numberplan.NumberPlan) -> None:
    db: Any = None
    assert await owners.kind_of(db, "6400") == "queue"
    assert await owners.kind_of(db, " 1000 ") == "extension"
    assert await owners.kind_of(db, "*97") == numberplan.FEATURE_CODE_KIND
    assert await owners.kind_of(db, "6401") is None
