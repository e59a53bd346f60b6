"""A PBX shared by a module's call tests, with three extensions made through the API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.calls.peers import EXTENSIONS, PASSWORD
from tests.harness import PbxProcess

ENV = {
    "KILOPBX_REGISTRAR_QUALIFY_INTERVAL": "0",  # sipp does not answer OPTIONS between runs
    "KILOPBX_MEDIA_WORKERS": "1",
    "KILOPBX_CALL_RING_TIMEOUT": "4",
}


@pytest.fixture(scope="module")
def call_pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PbxProcess]:
    yield from call_pbx_with(tmp_path_factory, {})


def call_pbx_with(
    tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]
) -> Iterator[PbxProcess]:
    """A PBX with the extensions of ``EXTENSIONS``, ``env`` added to the defaults."""
    pbx = PbxProcess(tmp_path_factory.mktemp("calls") / "pbx", {**ENV, **env}).start()
    try:
        token = pbx.login()
        pbx.api("extension/delete", {"number": "all"}, token=token)
        for number in EXTENSIONS:
            body = {
                "number": number,
                "username": f"User {number}",
                "registername": number,
                "registerpassword": PASSWORD,
            }
            answer = pbx.api("extension/add", body, token=token)
            assert answer["status"] == "Success", answer
        yield pbx
    finally:
        pbx.stop()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
