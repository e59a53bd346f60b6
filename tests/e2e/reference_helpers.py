"""Make every feature refer to some extensions, then read back what still refers to
them: for the e2e tests of deleting extensions in bulk."""

from __future__ import annotations

from typing import Any

from tests.e2e.config_helpers import call
from tests.harness import PbxProcess


def _ok(pbx: PbxProcess, token: str, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
    answer, detail = call(pbx, token, endpoint, body)
    assert answer.get("status") == "Success", (endpoint, body, answer, detail)
    return answer


def refer_to_extensions(pbx: PbxProcess, token: str, numbers: list[str]) -> None:
    """Put the extensions `numbers` (at least 13) into every feature that names
    extensions: groups, destinations, route permissions, DOD, alarms."""
    n = iter(numbers)

    def take(count: int) -> str:
        return ",".join(next(n) for _ in range(count))

    calls: list[tuple[str, dict[str, Any]]] = [
        ("ringgroup/add", {"number": "7300", "name": "Bulk", "members": take(2)}),
        ("ringgroup/update", {"number": "7300", "failoverdesttype": "voicemail"}),
        ("queue/add", {"number": "7400", "queuename": "Bulk", "agents": take(2)}),
        ("paginggroup/add", {"number": "7500", "name": "Bulk", "type": "paging"}),
        ("conference/add", {"number": "7600", "name": "Bulk", "moderators": take(1)}),
        ("extensiongroup/add", {"name": "Bulk", "members": take(2)}),
        ("wakeupcall/create", {"number": take(1), "wakeup": [{"time": "7:30", "type": "onetime"}]}),
    ]
    calls[1][1]["failoverdest"] = next(n)
    calls[3][1]["member"] = take(1)
    trunk = {"trunkname": "Bulk", "trunktype": "peer", "host": "10.0.0.9", "domain": "10.0.0.9"}
    calls.append(("trunk/add_siptrunk", trunk | {"extensionsdod": f"7000-bulk-{next(n)}"}))
    route = {"name": "Bulk", "prefix": "9.", "trunks": "Bulk", "extensions": take(2)}
    calls.append(("outroute/add", route))
    inbound = {"name": "Bulk", "did": "", "caller_id": "", "trunks": "Bulk"}
    calls.append(("inroute/add", inbound | {"desttype": "extension", "dest": next(n)}))
    keys = [{"key": "1", "desttype": "extension", "dest": next(n)}]
    ivr = {"number": "7700", "ivrname": "Bulk", "keys": keys, "timeoutdesttype": "voicemail"}
    calls.append(("ivr/add", ivr | {"timeoutdest": next(n)}))
    for endpoint, body in calls:
        _ok(pbx, token, endpoint, body)


def references_left(pbx: PbxProcess, token: str) -> dict[str, Any]:
    """What the objects made by `refer_to_extensions` still say about extensions."""

    def first(endpoint: str, body: dict[str, Any], key: str) -> dict[str, Any]:
        return _ok(pbx, token, endpoint, body)[key][0]

    ring_group = first("ringgroup/query", {"number": "7300"}, "ringgroups")
    ivr = first("ivr/query_destinations", {"number": "7700"}, "ivrdestinations")
    groups = _ok(pbx, token, "extensiongroup/query", {"id": "all"})["extgroupinfos"]
    inbound = first("inroute/query", {"id": "all"}, "inroutes")
    return {
        "ring group": (ring_group["members"], ring_group["failoverdesttype"]),
        "queue": first("queue/query", {"number": "7400"}, "queues")["agents"],
        "paging": first("paginggroup/query", {"number": "7500"}, "paginggroup")["member"],
        "conference": first("conference/query", {"number": "7600"}, "conferences")["moderators"],
        "ivr": (ivr["keys"], ivr["timeoutdesttype"], ivr["timeoutdest"]),
        "extension group": [g["members"] for g in groups if g["name"] == "Bulk"],
        "alarms": _ok(pbx, token, "wakeupcall/query", {"number": "all"}).get("wakeups", []),
        "dod": first("trunk/query_siptrunk", {"id": "all"}, "trunks")["extensionsdod"],
        "permissions": first("outroute/query", {"id": "all"}, "outroutes")["extensions"],
        "inbound": (inbound["desttype"], inbound["dest"]),
    }


NOTHING_LEFT = {
    "ring group": ("", "hangup"),
    "queue": "",
    "paging": "",
    "conference": "",
    "ivr": ([], "hangup", ""),
    "extension group": [""],
    "alarms": [],
    "dod": "",
    "permissions": "",
    "inbound": ("hangup", ""),
}
