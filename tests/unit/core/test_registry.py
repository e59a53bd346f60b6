"""The feature registry: typed keys, composed contribution points, start order from the
declared needs, and the check that a feature provided what it declared."""

from __future__ import annotations

from typing import ClassVar

import pytest

from kilopbx.core.registry import (
    Feature,
    FeatureOrderError,
    Key,
    MissingService,
    Need,
    Point,
    Registry,
    check_provided,
    start_order,
)
from kilopbx.engine.routing import LINE_STATUS, compose_line_status

NAMES: Key[list[str]] = Key("names")
COUNT: Key[int] = Key("count")
HOOKS: Point[str] = Point("hooks")


def feature(needs: tuple[Need, ...] = (), provides: tuple[Need, ...] = ()) -> type[Feature]:
    class Made:
        needs: ClassVar[tuple[Need, ...]] = ()
        provides: ClassVar[tuple[Need, ...]] = ()

        async def start(self) -> None:
            pass

        async def stop(self) -> None:
            pass

    Made.needs, Made.provides = needs, provides
    return Made


def test_get_provide_find() -> None:
    registry = Registry()
    assert registry.find(NAMES) is None
    with pytest.raises(MissingService, match="names"):
        registry.get(NAMES)
    names = registry.provide(NAMES, ["a"])
    assert registry.get(NAMES) is names
    with pytest.raises(ValueError, match="already provided"):
        registry.provide(NAMES, [])


def test_contributions_are_composed_never_replaced() -> None:
    registry = Registry()
    assert registry.contributions(HOOKS) == []
    registry.contribute(HOOKS, "registrar")
    registry.contribute(HOOKS, "calls")
    assert registry.contributions(HOOKS) == ["registrar", "calls"]
    registry.withdraw(HOOKS, "registrar")
    registry.withdraw(HOOKS, "never added")
    assert registry.contributions(HOOKS) == ["calls"]


def test_start_order_puts_providers_first_and_keeps_ties() -> None:
    user = feature(needs=(NAMES, HOOKS))
    contributor = feature(provides=(HOOKS,))
    provider = feature(provides=(NAMES,))
    bystander = feature()
    order = start_order([user, bystander, contributor, provider])
    assert order == [bystander, contributor, provider, user]


def test_needed_point_without_contributor_is_fine() -> None:
    alone = feature(needs=(HOOKS,))
    assert start_order([alone]) == [alone]


def test_missing_provider_and_cycles_are_errors() -> None:
    with pytest.raises(FeatureOrderError, match="needs Key\\('count'\\)"):
        start_order([feature(needs=(COUNT,))])
    first = feature(needs=(NAMES,), provides=(COUNT,))
    second = feature(needs=(COUNT,), provides=(NAMES,))
    with pytest.raises(FeatureOrderError, match="need each other"):
        start_order([first, second])


def test_a_feature_must_provide_what_it_declares() -> None:
    registry = Registry()
    declared = feature(provides=(COUNT, HOOKS))()
    with pytest.raises(FeatureOrderError, match="without providing Key\\('count'\\)"):
        check_provided(declared, registry)
    registry.provide(COUNT, 1)
    check_provided(declared, registry)  # a point may stay empty


def test_line_status_takes_the_most_telling_source() -> None:
    registry = Registry()
    assert compose_line_status(registry.contributions(LINE_STATUS), "2001") == "Unavailable"
    registry.contribute(LINE_STATUS, lambda n: "Registered" if n == "2001" else "Unavailable")
    registry.contribute(LINE_STATUS, lambda n: "Busy" if n == "2002" else "Unavailable")
    registry.contribute(LINE_STATUS, lambda _n: "nonsense")
    sources = registry.contributions(LINE_STATUS)
    assert compose_line_status(sources, "2001") == "Registered"
    assert compose_line_status(sources, "2002") == "Busy"
    assert compose_line_status(sources, "2003") == "Unavailable"


def test_the_shipped_features_have_a_start_order() -> None:
    import importlib

    from kilopbx.features import FEATURES

    classes: list[type[Feature]] = [importlib.import_module(n).Feature for n in FEATURES]
    order = [f.__module__ for f in start_order(classes)]
    assert order.index("kilopbx.apps.extensions.feature") < order.index(
        "kilopbx.apps.registrar.feature"
    )
    assert order.index("kilopbx.apps.ivr.feature") > order.index("kilopbx.apps.queues.feature")
    assert order[-1] == "kilopbx.engine.sip_port"
