"""An IVR's ways into voicemail, keys sent as SIP INFO from a phone without
telephone-event: key 1 rings 2002, which has no phone registered (or is in DND), so
its no-answer (busy) forwarding takes the caller to 2002's box (its own greeting heard, the message
recorded); with `dialtocheckvoicemail` on, `*97` keyed in the IVR opens the
caller's own box after its PIN."""

from __future__ import annotations

import io
import time
import wave

import pytest

from kilopbx.sip.message import SipRequest
from kilopbx.sip.parser import parse_message
from tests.e2e.calls.rtp_phone import RtpPhone
from tests.e2e.ivr.conftest import IVR_MAIN, tone_wav
from tests.e2e.ivr.test_ivr_audio import DialogCaller, key_frames, media_port, pace
from tests.e2e.ivr.test_voicemail_deposit import answer_bye
from tests.e2e.ivr.test_voicemail_menu import (
    BEEP_HZ,
    GREETING_HZ,
    MESSAGE_HZ,
    RECEIVED_HZ,
    WEEKDAY_HZ,
    Listener,
    has,
    tones_heard,
    upload,
)
from tests.harness import HOST, PbxProcess

pytestmark = pytest.mark.peers


@pytest.mark.parametrize("dnd", ["off", "on"], ids=["no-phone", "dnd"])
def test_an_ivr_key_to_an_unanswered_extension_reaches_its_voicemail(
    ivr_pbx: PbxProcess, dnd: str
) -> None:
    token = ivr_pbx.login()
    enable = {"number": "2002", "hasvoicemail": "on", "dnd": dnd}
    assert ivr_pbx.api("extension/update", enable, token=token)["status"] == "Success"
    box = ivr_pbx.data_dir / "voicemail" / "2002"
    box.mkdir(parents=True, exist_ok=True)
    (box / "greeting.wav").write_bytes(tone_wav(600, GREETING_HZ))
    phone = RtpPhone("PCMU", 0)
    caller = DialogCaller(ivr_pbx, "2001")
    try:
        listener = Listener(
            caller, phone, (HOST, media_port(caller.answered(IVR_MAIN, phone.port)))
        )
        listener.send(0.0, 300)
        mark = listener.mark()
        listener.keys("1")  # 2002: no phone registered
        heard = listener.until(has(BEEP_HZ), mark, 20.0)
        assert heard[-2:] == [GREETING_HZ, BEEP_HZ], heard
        listener.send(0.0, 300)
        listener.send(MESSAGE_HZ, 1500)
        # an in-band # ends it (the worker's key reaches the application call), while
        # the caller goes on sending a tone, so that no silence can end it instead
        listener.index = pace(phone, listener.to, key_frames(phone, "#"), listener.index)
        bye_while_talking(listener, MESSAGE_HZ, 8.0)
    finally:
        caller.close()
        phone.close()
    answer = ivr_pbx.api("voicemail/query", {"number": "2002"}, token=token)
    [message] = answer["voicemails"][0]["voicemail"]
    assert (message["messagefrom"], message["voicemailstatus"]) == ("2001", "unread")
    path = box / "unread" / message["voicemailfile"]
    with wave.open(io.BytesIO(path.read_bytes()), "rb") as audio:
        assert MESSAGE_HZ in tones_heard(audio.readframes(audio.getnframes()))
    everything = {"number": "2002", "voicemailfile": "all", "voicemailstatus": "all"}
    assert ivr_pbx.api("voicemail/delete", everything, token=token)["status"] == "Success"
    assert (
        ivr_pbx.api("extension/update", {"number": "2002", "dnd": "off"}, token=token)["status"]
        == "Success"
    )


def bye_while_talking(listener: Listener, frequency: float, seconds: float) -> None:
    """Send ``frequency`` until the PBX's BYE arrives (answered 200)."""
    caller = listener.caller
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        listener.send(frequency, 100)
        caller.sock.setblocking(False)
        try:
            data, source = caller.sock.recvfrom(65535)
        except BlockingIOError:
            continue
        finally:
            caller.sock.setblocking(True)
        request = parse_message(data)
        if isinstance(request, SipRequest) and request.method == "BYE":
            head = "".join(
                f"{name}: {request.headers.get_all(name)[0]}\r\n"
                for name in ("Via", "From", "To", "Call-ID", "CSeq")
            )
            caller.sock.sendto(f"SIP/2.0 200 OK\r\n{head}Content-Length: 0\r\n\r\n".encode(),
                               source)  # fmt: skip
            return
    raise AssertionError(f"no BYE in {seconds} s while talking")


def test_star97_in_an_ivr_that_allows_it_opens_the_callers_box(ivr_pbx: PbxProcess) -> None:
    token = ivr_pbx.login()
    allow = {"number": IVR_MAIN, "dialtocheckvoicemail": "on"}
    assert ivr_pbx.api("ivr/update", allow, token=token)["status"] == "Success"
    upload(ivr_pbx, token, "vm-password", RECEIVED_HZ)
    upload(ivr_pbx, token, "vm-no-messages", WEEKDAY_HZ)
    phone = RtpPhone("PCMU", 0)
    caller = DialogCaller(ivr_pbx, "2003")
    try:
        listener = Listener(
            caller, phone, (HOST, media_port(caller.answered(IVR_MAIN, phone.port)))
        )
        listener.send(0.0, 300)
        mark = listener.mark()
        listener.keys("*97")
        listener.until(has(RECEIVED_HZ), mark, 20.0)  # asked for the PIN
        listener.keys("2003#")  # the default PIN is the extension's number
        heard = listener.until(has(WEEKDAY_HZ), mark, 20.0)  # in the box: no messages
        assert heard[-2:] == [RECEIVED_HZ, WEEKDAY_HZ], heard
        listener.keys("#")  # leave the main menu
        answer_bye(caller)
    finally:
        caller.close()
        phone.close()
    forbid = {"number": IVR_MAIN, "dialtocheckvoicemail": "off"}
    assert ivr_pbx.api("ivr/update", forbid, token=token)["status"] == "Success"
