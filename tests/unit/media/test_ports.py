from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest

from kilopbx.config import ConfigError, PortRange, load_settings
from kilopbx.media.pool import worker_count
from kilopbx.media.ports import PortAllocator, split_range


def test_slices_are_disjoint_even_and_cover_the_range() -> None:
    slices = split_range(PortRange(20001, 29999), 3)
    assert all(s.low % 2 == 0 for s in slices)
    assert slices[0].low == 20002 and slices[-1].high == 29999
    for left, right in itertools.pairwise(slices):
        assert left.high + 1 == right.low


def test_too_many_workers_for_the_range() -> None:
    with pytest.raises(ValueError):
        split_range(PortRange(20000, 20003), 3)


def test_allocator_hands_out_even_ports_with_their_rtcp_inside() -> None:
    ports = PortAllocator(PortRange(20000, 20009), random.Random(2))
    taken = [ports.take() for _ in range(5)]
    assert sorted(p for p in taken if p is not None) == [20000, 20002, 20004, 20006, 20008]
    assert ports.take() is None
    ports.give_back(20004)
    assert ports.take() == 20004


def test_worker_count_setting(tmp_path: Path) -> None:
    assert load_settings(env={}).media_workers == 0
    assert worker_count(0) >= 1
    assert worker_count(3) == 3
    assert load_settings(env={"KILOPBX_MEDIA_WORKERS": "4"}).media_workers == 4
    config = tmp_path / "k.toml"
    config.write_text("[media]\nworkers = 2\n")
    assert load_settings(config, env={}).media_workers == 2
    for bad in ("-1", "two", ""):
        with pytest.raises(ConfigError):
            load_settings(env={"KILOPBX_MEDIA_WORKERS": bad})
