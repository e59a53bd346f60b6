"""One PBX for the IVR tests: extensions 2001-2003, 2002 and 2003 answered by sipp,
and IVR 6201: key 1 rings 2002, key 2 enters IVR 6202, key 8 leaves a message for
2003, key 9 hangs up; no key rings
2003; any other key is invalid input (hang up). IVR 6202 lets callers dial an
extension directly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.calls.conftest import call_pbx_with
from tests.e2e.calls.peers import register, unregister
from tests.harness import PbxProcess, free_port

IVR_MAIN = "6201"
IVR_SUB = "6202"


@pytest.fixture(scope="module")
def ivr_pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PbxProcess]:
    for pbx in call_pbx_with(tmp_path_factory, {}):
        token = pbx.login()
        voicemail = {"number": "2003", "hasvoicemail": "on"}
        assert pbx.api("extension/update", voicemail, token=token)["status"] == "Success"
        sub = {"number": IVR_SUB, "ivrname": "Direct", "promptrepeat": "1",
               "responsetimeout": "2", "digittimeout": "1", "dialext": "on"}  # fmt: skip
        assert pbx.api("ivr/add", sub, token=token)["status"] == "Success"
        main = {
            "number": IVR_MAIN, "ivrname": "Main", "promptrepeat": "1",
            "responsetimeout": "1", "digittimeout": "1", "dialext": "off",
            "keys": [
                {"key": "1", "desttype": "extension", "dest": "2002"},
                {"key": "2", "desttype": "ivr", "dest": IVR_SUB},
                {"key": "8", "desttype": "voicemail", "dest": "2003"},
                {"key": "9", "desttype": "hangup", "dest": ""},
            ],
            "timeoutdesttype": "extension", "timeoutdest": "2003",
            "invaliddesttype": "hangup",
        }  # fmt: skip
        answer = pbx.api("ivr/add", main, token=token)
        assert answer["status"] == "Success", answer
        yield pbx


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def phones(ivr_pbx: PbxProcess, workdir: Path) -> Iterator[dict[str, int]]:
    """2002 and 2003 registered, each from its own port, for one test."""
    ports = {number: free_port(udp_too=True) for number in ("2002", "2003")}
    for number, port in ports.items():
        register(ivr_pbx, number, port, workdir)
    yield ports
    for number, port in ports.items():
        unregister(ivr_pbx, number, port, workdir)
