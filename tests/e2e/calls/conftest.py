"""A PBX shared by a module's call tests, with three extensions made through the API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.calls.peers import add_extensions, register, unregister
from tests.harness import PbxProcess, free_port

ENV = {
    "KILOPBX_REGISTRAR_QUALIFY_INTERVAL": "0",  # sipp does not answer OPTIONS between runs
    "KILOPBX_MEDIA_WORKERS": "1",
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
        add_extensions(pbx, token)
        yield pbx
    finally:
        pbx.stop()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def callee_port(call_pbx: PbxProcess, workdir: Path) -> Iterator[int]:
    """2002 registered from this port for the test, unregistered after."""
    port = free_port(udp_too=True)
    register(call_pbx, "2002", port, workdir)
    yield port
    unregister(call_pbx, "2002", port, workdir)
