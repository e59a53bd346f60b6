"""Where features publish and find services, and the order they start in.

A service is published under a typed `Key`: `registry.get(EXTENSIONS)` is an
`ExtensionService` to the type checker, with no cast. A `Point` is a contribution point
that several features feed (line status, SIP methods, ...); its contributions are
composed by whoever reads them, so a late starter never replaces an early one.

Each feature declares what it `needs` and what it `provides` (keys it publishes, points
it feeds). `start_order` puts every provider of a key or point before the features that
need it; the list order in `kilopbx.features` only breaks ties.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar, cast

T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class Key(Generic[T]):
    """One service of type T. Identity is the object, the name is for messages."""

    name: str

    def __repr__(self) -> str:
        return f"Key({self.name!r})"


@dataclass(frozen=True, eq=False)
class Point(Generic[T]):
    """A contribution point: any number of features add a T; readers compose them."""

    name: str

    def __repr__(self) -> str:
        return f"Point({self.name!r})"


Need = Key[Any] | Point[Any]


class Feature(Protocol):
    """A feature: built with its host (`Feature(pbx)`, see `kilopbx.engine.host`), started
    and stopped once.

    `needs`: keys it finds (their providers start first) and points it reads whole at
    start (every contributor starts first). `provides`: keys it publishes and points it
    feeds, by the end of its `start()` at the latest.
    """

    needs: ClassVar[tuple[Need, ...]]
    provides: ClassVar[tuple[Need, ...]]

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class MissingService(LookupError):
    """A key nobody published: a feature forgot to declare or to provide it."""


class Registry:
    def __init__(self) -> None:
        self._services: dict[Key[Any], object] = {}
        self._contributions: dict[Point[Any], list[object]] = {}

    def provide(self, key: Key[T], service: T) -> T:
        if key in self._services:
            raise ValueError(f"{key} is already provided")
        self._services[key] = service
        return service

    def get(self, key: Key[T]) -> T:
        try:
            return cast(T, self._services[key])
        except KeyError:
            raise MissingService(f"nobody provides {key}") from None

    def find(self, key: Key[T]) -> T | None:
        """The service, or None where the feature that provides it is not installed."""
        return cast("T | None", self._services.get(key))

    def has(self, key: Key[Any]) -> bool:
        return key in self._services

    def contribute(self, point: Point[T], item: T) -> None:
        self._contributions.setdefault(point, []).append(item)

    def withdraw(self, point: Point[T], item: T) -> None:
        items = self._contributions.get(point, [])
        if item in items:
            items.remove(item)

    def contributions(self, point: Point[T]) -> list[T]:
        """Every contribution, in the order the features made them."""
        return cast("list[T]", list(self._contributions.get(point, ())))


class FeatureOrderError(ValueError):
    """The declared needs cannot be met: a key without a provider, or a cycle."""


def start_order(features: Sequence[type[Feature]]) -> list[type[Feature]]:
    """`features` reordered so each starts after the providers of what it needs.

    Stable: features that do not depend on each other keep their listed order. A needed
    key that no feature provides is an error; a needed point may have no contributor.
    """
    providers: dict[Need, list[int]] = {}
    for index, feature in enumerate(features):
        for provided in feature.provides:
            providers.setdefault(provided, []).append(index)
    before: list[set[int]] = []
    for index, feature in enumerate(features):
        required: set[int] = set()
        for need in feature.needs:
            found = providers.get(need, [])
            if isinstance(need, Key) and not found:
                raise FeatureOrderError(f"{_name(feature)} needs {need}; nobody provides it")
            required.update(i for i in found if i != index)
        before.append(required)
    order: list[int] = []
    done: set[int] = set()
    while len(order) < len(features):
        ready = [i for i in range(len(features)) if i not in done and before[i] <= done]
        if not ready:
            stuck = ", ".join(_name(features[i]) for i in range(len(features)) if i not in done)
            raise FeatureOrderError(f"features need each other: {stuck}")
        order.append(ready[0])
        done.add(ready[0])
    return [features[i] for i in order]


def check_provided(feature: object, registry: Registry) -> None:
    """After `feature` started: every key it declared is in the registry."""
    declared: Iterable[Need] = getattr(feature, "provides", ())
    missing = [k for k in declared if isinstance(k, Key) and not registry.has(k)]
    if missing:
        names = ", ".join(str(k) for k in missing)
        raise FeatureOrderError(f"{_name(type(feature))} started without providing {names}")


def _name(feature: type[Any]) -> str:
    return f"{feature.__module__}.{feature.__qualname__}"
