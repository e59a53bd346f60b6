"""Capacity of a thousand-user PBX (issue 3): 200 of every kind of group, all through the
API, all kept across a restart. (1000 extensions, 200 trunks and 200 routes each way
are covered in their own modules.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.groups_helpers import GroupApi, module_pbx
from tests.harness import PbxProcess

COUNT = 200


@pytest.fixture(scope="module")
def pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PbxProcess]:
    yield from module_pbx(tmp_path_factory, "capacity")


def numbers(answer: list[dict[str, str]]) -> set[str]:
    return {item["number"] for item in answer}


def test_two_hundred_of_every_group_kind_survive_a_restart(pbx: PbxProcess) -> None:
    api = GroupApi(pbx)
    members = "1000,1001,1002,1003"  # the default extensions of a fresh install
    for i in range(COUNT):
        api.ok("extensiongroup/add", {"name": f"team{i}", "members": members})
        api.ok("ringgroup/add", {"number": 3000 + i, "name": f"Ring {i}", "members": members})
        api.ok("queue/add", {"number": 3200 + i, "queuename": f"Queue{i}", "agents": "1000"})
        api.ok("ivr/add", {"number": 3400 + i, "ivrname": f"Menu{i}"})
        api.ok("conference/add", {"number": 3600 + i, "name": f"Room {i}"})

    def snapshot() -> dict[str, set[str]]:
        return {
            "extension groups": {
                g["name"] for g in api.ok("extensiongroup/query", {"id": "all"})["extgroupinfos"]
            },
            "ring groups": numbers(api.ok("ringgroup/query", {"number": "all"})["ringgroups"]),
            "queues": numbers(api.ok("queue/query", {"number": "all"})["queues"]),
            "ivrs": numbers(api.ok("ivr/query", {"number": "all"})["ivr"]),
            "rooms": numbers(api.ok("conference/query", {"number": "all"})["conferences"]),
        }

    before = snapshot()
    assert {f"team{i}" for i in range(COUNT)} <= before["extension groups"]
    assert {str(3000 + i) for i in range(COUNT)} <= before["ring groups"]
    assert {str(3200 + i) for i in range(COUNT)} <= before["queues"]
    assert {str(3400 + i) for i in range(COUNT)} <= before["ivrs"]
    assert {str(3600 + i) for i in range(COUNT)} <= before["rooms"]
    pbx.restart()
    api.relogin()
    assert snapshot() == before
    # the one number plan still holds: a new object cannot take any of those numbers
    detail = api.fails("queue/add", {"number": "3000", "queuename": "Clash"}, "10100")
    assert "3000" in detail
