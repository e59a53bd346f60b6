"""The busy greeting: a caller who finds 2002 busy (a sipp phone answering 486) is
greeted "The person at extension 2 0 0 2 is on the phone..." before the beep, not with
the unavailable greeting; the owner records a busy greeting of its own with option 4
of the voicemail menu, and the next busy caller hears that one, while a caller who
finds no phone registered still hears the unavailable greeting. A caller an IVR
sends to the busy extension is greeted the same way.

The greeting prompts are replaced by custom prompts of pure tones (the extension's
digits between them stay spoken), so that the test hears which one played."""

from __future__ import annotations

import io
import socket
import wave
from pathlib import Path

import pytest

from tests.e2e.calls.peers import answer, register, unregister, wait_bound
from tests.e2e.calls.rtp_phone import RtpPhone
from tests.e2e.ivr.conftest import IVR_MAIN
from tests.e2e.ivr.test_ivr_audio import DialogCaller, media_port
from tests.e2e.ivr.test_voicemail_deposit import answer_bye
from tests.e2e.ivr.test_voicemail_menu import (
    BEEP_HZ,
    GREETING_HZ,
    MESSAGE_HZ,
    MONTH_HZ,
    RECEIVED_HZ,
    WEEKDAY_HZ,
    Listener,
    has,
    tones_heard,
    upload,
)
from tests.harness import HOST, PbxProcess, free_port

pytestmark = pytest.mark.peers

PERSON_HZ, ON_THE_PHONE_HZ, UNAVAILABLE_HZ = RECEIVED_HZ, WEEKDAY_HZ, MONTH_HZ


def greeting_heard(pbx: PbxProcess, dialled: str) -> list[float]:
    """Call ``dialled`` from 2001 and hang up at the beep: the tones heard until then."""
    phone = RtpPhone("PCMU", 0)
    caller = DialogCaller(pbx, "2001")
    try:
        listener = Listener(caller, phone, (HOST, media_port(caller.answered(dialled, phone.port))))
        heard = listener.until(has(BEEP_HZ), listener.mark(), 20.0)
        assert caller.in_dialog("BYE") == 200
    finally:
        caller.close()
        phone.close()
    return heard


def test_busy_callers_hear_the_busy_greeting_system_then_recorded(
    ivr_pbx: PbxProcess, tmp_path: Path
) -> None:
    token = ivr_pbx.login()
    box = {"number": "2002", "hasvoicemail": "on", "vmsecret": "4812"}
    assert ivr_pbx.api("extension/update", box, token=token)["status"] == "Success"
    upload(ivr_pbx, token, "vm-person-at-extension", PERSON_HZ)
    upload(ivr_pbx, token, "vm-is-on-the-phone", ON_THE_PHONE_HZ)
    upload(ivr_pbx, token, "vm-greeting", UNAVAILABLE_HZ)
    port = free_port(udp_too=True)
    register(ivr_pbx, "2002", port, tmp_path)
    try:
        # a busy line: the system busy greeting, then a message left after the beep
        callee = answer(ivr_pbx, port, tmp_path, scenario="uas_busy.xml")
        wait_bound(port)
        phone = RtpPhone("PCMU", 0)
        caller = DialogCaller(ivr_pbx, "2001")
        try:
            to = (HOST, media_port(caller.answered("2002", phone.port)))
            listener = Listener(caller, phone, to)
            heard = listener.until(has(BEEP_HZ), listener.mark(), 20.0)
            assert heard == [PERSON_HZ, ON_THE_PHONE_HZ, BEEP_HZ], heard
            listener.send(0.0, 300)
            listener.send(MESSAGE_HZ, 1500)
            listener.keys("#")
            answer_bye(caller)
        finally:
            caller.close()
            phone.close()
        callee.finish()
        # keep 2002's port ours until its next phone starts: on a busy machine another
        # process's socket may otherwise take the freed port in between
        held = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        held.bind((HOST, port))
        answer_ = ivr_pbx.api("voicemail/query", {"number": "2002"}, token=token)
        [message] = answer_["voicemails"][0]["voicemail"]
        assert (message["messagefrom"], message["voicemailstatus"]) == ("2001", "unread")

        # the owner records a busy greeting from its phone (*97, PIN, then option 4)
        phone = RtpPhone("PCMU", 0)
        caller = DialogCaller(ivr_pbx, "2002")
        try:
            to = (HOST, media_port(caller.answered("*97", phone.port)))
            listener = Listener(caller, phone, to)
            listener.send(0.0, 300)
            mark = listener.mark()
            listener.keys("4812#")
            listener.until(has(MESSAGE_HZ), mark, 40.0)  # the new message plays
            mark = listener.mark()
            listener.keys("#4")  # the next message (none), then option 4 of the main menu
            listener.until(has(BEEP_HZ), mark, 30.0)
            listener.send(0.0, 700)  # the beep ends, the recording starts
            listener.send(GREETING_HZ, 1500)
            listener.keys("#")
            listener.send(0.0, 500)
            listener.keys("#")  # leave the main menu
            answer_bye(caller)
        finally:
            caller.close()
            phone.close()
        folder = ivr_pbx.data_dir / "voicemail" / "2002"
        with wave.open(io.BytesIO((folder / "busy-greeting.wav").read_bytes()), "rb") as audio:
            assert GREETING_HZ in tones_heard(audio.readframes(audio.getnframes()))
        assert not (folder / "greeting.wav").exists()  # the unavailable one is not touched

        # the next busy caller hears the owner's busy greeting
        held.close()
        callee = answer(ivr_pbx, port, tmp_path, scenario="uas_busy.xml")
        wait_bound(port)
        heard = greeting_heard(ivr_pbx, "2002")
        assert heard == [GREETING_HZ, BEEP_HZ], heard
        callee.finish()
    finally:
        unregister(ivr_pbx, "2002", port, tmp_path)
    # no phone registered: the unavailable greeting, not the busy one
    heard = greeting_heard(ivr_pbx, "2002")
    assert heard == [UNAVAILABLE_HZ, BEEP_HZ], heard
    everything = {"number": "2002", "voicemailfile": "all", "voicemailstatus": "all"}
    assert ivr_pbx.api("voicemail/delete", everything, token=token)["status"] == "Success"


def test_an_ivr_caller_sent_to_a_busy_extension_hears_its_busy_greeting(
    ivr_pbx: PbxProcess, tmp_path: Path
) -> None:
    """Key 1 of the IVR rings 2002, whose phone answers 486: the caller, already
    answered by the IVR, is taken back for 2002's box and greeted as a busy line's."""
    token = ivr_pbx.login()
    box = {"number": "2002", "hasvoicemail": "on"}
    assert ivr_pbx.api("extension/update", box, token=token)["status"] == "Success"
    upload(ivr_pbx, token, "vm-person-at-extension", PERSON_HZ)
    upload(ivr_pbx, token, "vm-is-on-the-phone", ON_THE_PHONE_HZ)
    upload(ivr_pbx, token, "vm-greeting", UNAVAILABLE_HZ)
    (ivr_pbx.data_dir / "voicemail" / "2002" / "busy-greeting.wav").unlink(missing_ok=True)
    port = free_port(udp_too=True)
    register(ivr_pbx, "2002", port, tmp_path)
    try:
        callee = answer(ivr_pbx, port, tmp_path, scenario="uas_busy.xml")
        wait_bound(port)
        phone = RtpPhone("PCMU", 0)
        caller = DialogCaller(ivr_pbx, "2001")
        try:
            to = (HOST, media_port(caller.answered(IVR_MAIN, phone.port)))
            listener = Listener(caller, phone, to)
            listener.send(0.0, 300)
            mark = listener.mark()
            listener.keys("1")  # 2002, busy
            heard = listener.until(has(BEEP_HZ), mark, 20.0)
            assert heard[-3:] == [PERSON_HZ, ON_THE_PHONE_HZ, BEEP_HZ], heard
            assert UNAVAILABLE_HZ not in heard
            assert caller.in_dialog("BYE") == 200
        finally:
            caller.close()
            phone.close()
        callee.finish()
    finally:
        unregister(ivr_pbx, "2002", port, tmp_path)
