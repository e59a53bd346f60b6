"""Helpers shared by the group-feature API tests (IVR, queues, conference rooms, paging,
ring groups, wake-up calls): one PBX per test module, and short ways to expect a
success or a failure with its errno and X-KiloPBX-Detail header."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from tests.harness import PbxProcess

T = TypeVar("T")

# values a careless or hostile client may send where a short string or number belongs
HOSTILE_TEXTS = [
    "'; DROP TABLE ivr; --",
    "<script>alert(1)</script>",
    "a\x00b",
    "x" * 5000,
    "١٢٣٤",  # Arabic-Indic digits are not ASCII digits
    "../../etc/passwd",
    "6,7,8\n",
]
NON_SCALARS: list[Any] = [{"a": 1}, [1, 2], True, 2.5]


def module_pbx(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[PbxProcess]:
    pbx = PbxProcess(tmp_path_factory.mktemp(name) / "pbx").start()
    try:
        yield pbx
    finally:
        pbx.stop()


class GroupApi:
    def __init__(self, pbx: PbxProcess) -> None:
        self.pbx = pbx
        self.token = pbx.login()

    def relogin(self) -> None:
        self.token = self.pbx.login()

    def raw(self, endpoint: str, body: Any) -> tuple[dict[str, Any], str]:
        data = json.dumps(body).encode()
        status, headers, payload = self.pbx.http(
            f"/api/v2.0.0/{endpoint}?token={self.token}",
            body=data,
            headers={"Content-Type": "application/json"},
        )
        assert status == 200, (status, payload[:200])
        return json.loads(payload), headers.get("X-KiloPBX-Detail", "")

    def ok(self, endpoint: str, body: Any = None) -> dict[str, Any]:
        answer, detail = self.raw(endpoint, body if body is not None else {})
        assert answer.get("status") == "Success", (endpoint, body, answer, detail)
        return answer

    def fails(self, endpoint: str, body: Any, errno: str) -> str:
        """Expect exactly {"status": "Failed", "errno": errno}; return the detail header."""
        answer, detail = self.raw(endpoint, body)
        assert answer == {"status": "Failed", "errno": errno}, (endpoint, body, answer, detail)
        return detail

    def add_extension(self, number: str) -> None:
        self.ok(
            "extension/add",
            {
                "number": number,
                "username": f"Guest {number}",
                "registername": f"reg{number}",
                "registerpassword": "Tq7wLp3xVz9bKd4M",
            },
        )


def concurrently(*calls: Callable[[], T]) -> list[T]:
    """Run the calls in threads released together; return their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[], T]) -> None:
        try:
            barrier.wait(5)
            results[index] = call()
        except BaseException as exc:  # reported in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    if errors:
        raise errors[0]
    return results
