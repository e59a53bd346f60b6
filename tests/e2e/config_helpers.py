"""Shared helpers for the configuration API e2e tests (extensions, groups, contacts)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.harness import PbxProcess

DETAIL_HEADER = "X-KiloPBX-Detail"
GOOD_PASSWORD = "Tq7wLp3xVz9bKd4M"


def start_module_pbx(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[PbxProcess]:
    pbx = PbxProcess(tmp_path_factory.mktemp(name) / "pbx").start()
    try:
        yield pbx
    finally:
        pbx.stop()


def ext_body(number: str | int, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "number": str(number),
        "username": f"User {number}",
        "registername": f"reg{number}",
        "registerpassword": GOOD_PASSWORD,
    }
    body.update(fields)
    return body


def call(pbx: PbxProcess, token: str, endpoint: str, body: Any) -> tuple[dict[str, Any], str]:
    """The answer and the X-KiloPBX-Detail header ("" when absent)."""
    raw = json.dumps(body).encode()
    status, headers, payload = pbx.http(
        f"/api/v2.0.0/{endpoint}?token={token}",
        body=raw,
        headers={"Content-Type": "application/json"},
    )
    assert status == 200
    return json.loads(payload), headers.get(DETAIL_HEADER, "")


def failed(errno: str) -> dict[str, str]:
    return {"status": "Failed", "errno": errno}


OK = {"status": "Success"}


def query_extension(pbx: PbxProcess, token: str, number: str) -> dict[str, Any]:
    """The settings object of one extension (the query must succeed)."""
    answer = pbx.api("extension/query", {"number": number}, token=token)
    assert answer["status"] == "Success", answer
    (info,) = answer["extinfos"]
    return info


def add_extension(pbx: PbxProcess, token: str, number: str | int, **fields: Any) -> dict[str, Any]:
    return pbx.api("extension/add", ext_body(number, **fields), token=token)
