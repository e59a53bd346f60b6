from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.harness import EventReceiver, PbxProcess


@pytest.fixture
def make_pbx(tmp_path: Path) -> Iterator[Callable[..., PbxProcess]]:
    """Start PBX processes with extra environment; all are stopped after the test."""
    started: list[PbxProcess] = []

    def make(
        env: dict[str, str] | None = None, name: str = "pbx", args: list[str] | None = None
    ) -> PbxProcess:
        pbx = PbxProcess(tmp_path / name, env, args).start()
        started.append(pbx)
        return pbx

    yield make
    for pbx in started:
        pbx.stop()


@pytest.fixture
def pbx(make_pbx: Callable[..., PbxProcess]) -> PbxProcess:
    return make_pbx()


@pytest.fixture
def receiver() -> Iterator[EventReceiver]:
    rx = EventReceiver().start()
    yield rx
    rx.stop()
