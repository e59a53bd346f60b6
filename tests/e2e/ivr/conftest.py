"""One PBX for the IVR tests: extensions 2001-2003, 2002 and 2003 answered by sipp,
and IVR 6201: key 1 rings 2002, key 2 enters IVR 6202, key 8 leaves a message for
2003, key 9 hangs up; no key rings
2003; any other key is invalid input (hang up). IVR 6202 lets callers dial an
extension directly."""

from __future__ import annotations

import base64
import io
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.calls.conftest import call_pbx_with
from tests.e2e.calls.peers import register, unregister
from tests.harness import PbxProcess, free_port
from tests.media_audio import tone

IVR_MAIN = "6201"
IVR_SUB = "6202"
MENU_PROMPT = "short-menu"


def tone_wav(milliseconds: int, frequency: float = 600.0) -> bytes:
    """A WAV of a quiet tone: the tests' menu prompt and voicemail greeting."""
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(tone(frequency, 8000, milliseconds, amplitude=4000))
    return out.getvalue()


@pytest.fixture(scope="module")
def ivr_pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PbxProcess]:
    for pbx in call_pbx_with(tmp_path_factory, {}):
        token = pbx.login()
        voicemail = {"number": "2003", "hasvoicemail": "on"}
        assert pbx.api("extension/update", voicemail, token=token)["status"] == "Success"
        # short prompts keep the tests' timing independent of the spoken system prompts
        upload = {"name": MENU_PROMPT, "data": base64.b64encode(tone_wav(600)).decode()}
        assert pbx.api("prompt/upload", upload, token=token)["status"] == "Success"
        box = pbx.data_dir / "voicemail" / "2003"
        box.mkdir(parents=True, exist_ok=True)
        (box / "greeting.wav").write_bytes(tone_wav(300))
        sub = {"number": IVR_SUB, "ivrname": "Direct", "promptrepeat": "1", "prompt": MENU_PROMPT,
               "responsetimeout": "2", "digittimeout": "1", "dialext": "on"}  # fmt: skip
        assert pbx.api("ivr/add", sub, token=token)["status"] == "Success"
        main = {
            "number": IVR_MAIN, "ivrname": "Main", "promptrepeat": "1", "prompt": MENU_PROMPT,
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
