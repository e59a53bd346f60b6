"""Helpers shared by the trunk and route API tests: one PBX per module, a session whose
events go to a real receiver, and short ways to call the API."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.harness import EventReceiver, PbxProcess

DETAIL_HEADER = "X-KiloPBX-Detail"
OK = {"status": "Success"}


def failed(errno: str) -> dict[str, str]:
    return {"status": "Failed", "errno": errno}


@dataclass
class Api:
    """A logged-in client of one PBX."""

    pbx: PbxProcess
    token: str

    def __call__(self, endpoint: str, body: Any = None) -> dict[str, Any]:
        return self.pbx.api(endpoint, body, token=self.token)

    def raw(self, endpoint: str, data: bytes) -> dict[str, Any]:
        return self.pbx.api(endpoint, raw=data, token=self.token)

    def with_detail(self, endpoint: str, body: Any) -> tuple[dict[str, Any], str]:
        status, headers, payload = self.pbx.http(
            f"/api/v2.0.0/{endpoint}?token={self.token}",
            body=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        assert status == 200
        return json.loads(payload), headers.get(DETAIL_HEADER, "")

    def ok(self, endpoint: str, body: Any = None) -> dict[str, Any]:
        answer = self(endpoint, body)
        assert answer["status"] == "Success", (endpoint, body, answer)
        return answer


def module_pbx(
    tmp_path_factory: pytest.TempPathFactory, name: str, env: dict[str, str] | None = None
) -> Iterator[PbxProcess]:
    pbx = PbxProcess(tmp_path_factory.mktemp(name) / "pbx", env).start()
    try:
        yield pbx
    finally:
        pbx.stop()


def module_receiver() -> Iterator[EventReceiver]:
    receiver = EventReceiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()


def run_together(*actions: Callable[[], Any]) -> list[Any]:
    """Run the actions in threads that start at the same moment; their results."""
    barrier = threading.Barrier(len(actions))
    results: list[Any] = [None] * len(actions)

    def run(index: int, action: Callable[[], Any]) -> None:
        barrier.wait()
        results[index] = action()

    threads = [
        threading.Thread(target=run, args=(index, action)) for index, action in enumerate(actions)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results
