"""Listening by feature code (`*97`) with sipp pressing RFC 4733 keys from the pcaps
sipp ships: the PIN, then save (9) the first new message and delete (7) the second;
`voicemail/query` shows the change. Three wrong PINs end the call with nothing
changed, and do not keep the owner out of the next call."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.ivr.caller import PAUSE, call_ivr, press_pcap, scenario, sipp_pcap
from tests.e2e.ivr.test_voicemail_api import plant
from tests.harness import PbxProcess

pytestmark = pytest.mark.peers
CODE = "*97"
# after the last message the main menu plays and waits for a key before the goodbye;
# the test leaves it with # at once, and waits twice the 15 s it did before the menu
BYE_WAIT_MS = 30000


def keys(text: str, ms: int = 150) -> list[str]:
    return [press_pcap(sipp_pcap(key), ms=ms) for key in text]


def listing(pbx: PbxProcess, token: str, number: str) -> list[tuple[str, str]]:
    answer = pbx.api("voicemail/query", {"number": number}, token=token)
    if "voicemails" not in answer:
        return []
    return sorted(
        (m["voicemailstatus"], m["voicemailfile"]) for m in answer["voicemails"][0]["voicemail"]
    )


def test_wrong_pins_end_the_call_then_the_owner_saves_and_deletes(
    ivr_pbx: PbxProcess, workdir: Path
) -> None:
    token = ivr_pbx.login()
    # no key twice in a row: sipp replays a pcap as it is, so a repeat looks like a copy
    pin = {"number": "2001", "vmsecret": "4812"}
    assert ivr_pbx.api("extension/update", pin, token=token)["status"] == "Success"
    plant(ivr_pbx, "2001", "unread", "msg0000.wav", frames=4000)
    plant(ivr_pbx, "2001", "unread", "msg0001.wav", frames=4000)
    before = listing(ivr_pbx, token, "2001")
    wrong = [PAUSE.format(ms=500)] + keys("13#") * 3
    call_ivr(
        ivr_pbx,
        "2001",
        CODE,
        workdir,
        scenario("2001", wrong, connected=False, bye_wait_ms=BYE_WAIT_MS),
    ).finish(60)
    assert listing(ivr_pbx, token, "2001") == before  # nothing heard, nothing changed
    right = [PAUSE.format(ms=500), *keys("4812#"), PAUSE.format(ms=400)]
    right += keys("9", ms=600) + keys("7", ms=600) + keys("#", ms=0)  # save, delete, leave
    call_ivr(
        ivr_pbx,
        "2001",
        CODE,
        workdir,
        scenario("2001", right, connected=False, bye_wait_ms=BYE_WAIT_MS),
    ).finish(60)
    assert listing(ivr_pbx, token, "2001") == [("read", "msg0000.wav")]
