"""Call recording through `kilopbx serve`: two sipp phones playing different tones (and a
third one added to the call, recorded in the same file), the CRM flow (NewCdr names the
file, recording/get_random, GET recording/download, the string used once), download
security, and a recording cut by a killed media worker."""

from __future__ import annotations

import io
import json
import os
import signal
import time
import urllib.parse
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.calls.peers import answer, call, pbx_media_port, register, unregister
from tests.e2e.calls.rtp_phone import RtpPhone, talk
from tests.e2e.calls.test_calls_sipp import answered, wait_for_calls
from tests.e2e.calls.test_listen_and_add_member import members, no_calls, talk3
from tests.harness import HOST, EventReceiver, PbxProcess, free_port, media_workers
from tests.media_audio import goertzel

pytestmark = pytest.mark.peers


@pytest.fixture
def recorded(call_pbx: PbxProcess, receiver: EventReceiver) -> Iterator[str]:
    """A token whose events go to `receiver`, with 2001's calls recorded."""
    token = call_pbx.login(port=receiver.port)
    policy = call_pbx.api("recording/update_settings", {"extensions": "2001"}, token=token)
    assert policy["status"] == "Success" and policy["extensions"] == "2001", policy
    yield token
    call_pbx.api("recording/update_settings", {"extensions": ""}, token=token)


def _download(pbx: PbxProcess, token: str, name: str, random: str, **kw: Any) -> tuple:  # type: ignore[type-arg]
    query = urllib.parse.urlencode({"recording": name, "random": random, "token": token})
    return pbx.http(f"/api/v2.0.0/recording/download?{query}", method="GET", **kw)


def _new_cdr(receiver: EventReceiver) -> dict[str, Any]:
    events = receiver.wait_for(lambda evs: any(e.get("event") == "NewCdr" for e in evs))
    (cdr,) = [e for e in events if e.get("event") == "NewCdr"]
    return cdr


def test_a_recorded_call_holds_both_tones_and_downloads_once(
    call_pbx: PbxProcess, callee_port: int, workdir: Path, receiver: EventReceiver, recorded: str
) -> None:
    token = recorded
    caller, callee = RtpPhone("PCMU", 0), RtpPhone("PCMA", 8)
    uas = answer(call_pbx, callee_port, workdir, pts="8", rtp=callee.port)
    try:
        uac = call(call_pbx, "2001", "2002", workdir, pts="0", rtp=caller.port, talk_ms=2500)
        to_caller = (HOST, pbx_media_port(workdir, "caller"))
        to_callee = (HOST, pbx_media_port(workdir, "callee"))
        talk(caller, to_caller, callee, to_callee, a_hz=440, b_hz=1300, milliseconds=1500)
        uac.finish()
        uas.finish()
    finally:
        uas.kill()
        caller.close()
        callee.close()
    cdr = _new_cdr(receiver)
    name = cdr["recording"]
    assert name.startswith(cdr["timestart"].replace("-", "").replace(" ", "").replace(":", ""))
    assert name.endswith(f"-{cdr['callid']}-2001-2002-Internal.wav"), name
    granted = call_pbx.api("recording/get_random", {"recording": name}, token=token)
    assert granted["status"] == "Success" and granted["recording"] == name
    assert len(granted["random"]) == 32
    status, headers, body = _download(call_pbx, token, name, granted["random"])
    assert status == 200 and headers["Content-Type"].startswith("audio/wav")
    assert f'filename="{name}"' in headers["Content-Disposition"]
    with wave.open(io.BytesIO(body)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 8000)
        pcm = wav.readframes(wav.getnframes())
    assert len(pcm) > 2 * 8000 * 1.2  # the 1.5 s both phones talked
    control = goertzel(pcm, 8000, 900)
    assert goertzel(pcm, 8000, 440) > 50 * control  # the caller
    assert goertzel(pcm, 8000, 1300) > 50 * control  # the callee
    status, headers, again = _download(call_pbx, token, name, granted["random"])
    assert json.loads(again) == {"status": "Failed", "errno": "20012"}  # single use


def test_recording_downloads_refuse_what_they_must(
    call_pbx: PbxProcess, receiver: EventReceiver
) -> None:
    token = call_pbx.login(port=receiver.port)
    recordings = call_pbx.data_dir / "recordings"
    (recordings / "20240101000000-1.1-2001-2002-Internal.wav").write_bytes(b"RIFF")  # half
    (call_pbx.data_dir / "secret.wav").write_bytes(b"RIFF....WAVE")
    cases = {
        "../secret.wav": "20014",
        "/etc/passwd": "20014",
        "nothing-here.wav": "20014",
        "20240101000000-1.1-2001-2002-Internal.wav": "20014",  # not a complete WAV
        "x" * 5000 + ".wav": "20014",
    }
    for name, errno in cases.items():
        answer = call_pbx.api("recording/get_random", {"recording": name}, token=token)
        assert answer == {"status": "Failed", "errno": errno}, name
    assert call_pbx.api("recording/get_random", {}, token=token)["errno"] in ("10004", "20007")
    good = recordings / "20240101000000-1.2-2001-2002-Internal.wav"
    with wave.open(str(good), "wb") as out:
        out.setnchannels(1), out.setsampwidth(2), out.setframerate(8000)
        out.writeframes(bytes(1600))
    name = good.name
    bad_ip = {"recording": name, "allowedip": "10.0.0.1,10.0.0.2"}
    assert call_pbx.api("recording/get_random", bad_ip, token=token)["errno"] == "20015"
    random = call_pbx.api("recording/get_random", {"recording": name}, token=token)["random"]
    status, _, body = _download(call_pbx, token, name, random, source_ip="127.0.0.2")
    assert json.loads(body) == {"status": "Failed", "errno": "20015"}  # not the app's address
    random = call_pbx.api("recording/get_random", {"recording": name}, token=token)["random"]
    status, _, body = _download(call_pbx, token, "other.wav", random)
    assert json.loads(body)["errno"] == "20012"  # bound to its file
    extra = {"recording": name, "allowedip": "127.0.0.2"}
    random = call_pbx.api("recording/get_random", extra, token=token)["random"]
    status, _headers, body = _download(call_pbx, token, name, random, source_ip="127.0.0.2")
    assert status == 200 and body.startswith(b"RIFF") and len(body) == 44 + 1600
    for bad in ({"extensions": "20 01"}, {"queues": "all,6400"}, {"trunks": "x" * 100}):
        assert call_pbx.api("recording/update_settings", bad, token=token)["errno"] == "10932"
    unknown = {"extensions": "2001,4999"}
    assert call_pbx.api("recording/update_settings", unknown, token=token)["errno"] == "10006"
    assert call_pbx.api("recording/query_settings", {}, token=token)["extensions"] == ""


def test_a_recording_cut_by_a_killed_worker_is_a_valid_wav(
    call_pbx: PbxProcess, callee_port: int, workdir: Path, receiver: EventReceiver, recorded: str
) -> None:
    caller = RtpPhone("PCMU", 0)
    callee = answer(call_pbx, callee_port, workdir)
    try:
        # a long call: the worker's death ends it, and both phones get a BYE they did
        # not plan for (their sipp exit code says so; the recording is what counts)
        uac = call(call_pbx, "2001", "2002", workdir, rtp=caller.port, talk_ms=20000)
        to_caller = (HOST, pbx_media_port(workdir, "caller"))
        wait_for_calls(call_pbx, recorded, answered)
        frames = caller.frames(700, 1600)
        began = time.monotonic()
        for index, payload in enumerate(frames):  # more than one flush interval of audio
            caller.send(to_caller, payload, index)
            time.sleep(max(0.0, began + (index + 1) * 0.02 - time.monotonic()))
        (worker,) = media_workers(call_pbx)
        os.kill(worker, signal.SIGKILL)
        uac.outcome()
        callee.outcome()
    finally:
        callee.kill()
        caller.close()
    name = _new_cdr(receiver)["recording"]
    path = call_pbx.data_dir / "recordings" / name
    with wave.open(str(path)) as wav:  # valid as the killed worker left it
        pcm = wav.readframes(wav.getnframes())
    assert len(pcm) >= 2 * 8000 * 0.5
    assert goertzel(pcm, 8000, 700) > 20 * goertzel(pcm, 8000, 1100)
    random = call_pbx.api("recording/get_random", {"recording": name}, token=recorded)["random"]
    status, _, body = _download(call_pbx, recorded, name, random)
    assert status == 200 and body.startswith(b"RIFF")


def test_star_1_records_a_call_on_demand(
    call_pbx: PbxProcess, callee_port: int, workdir: Path, receiver: EventReceiver
) -> None:
    token = call_pbx.login(port=receiver.port)  # no recording policy: nothing automatic
    caller, callee = RtpPhone("PCMU", 0), RtpPhone("PCMU", 0)
    uas = answer(call_pbx, callee_port, workdir, rtp=callee.port)
    try:
        uac = call(call_pbx, "2001", "2002", workdir, rtp=caller.port, talk_ms=4000)
        to_caller = (HOST, pbx_media_port(workdir, "caller"))
        to_callee = (HOST, pbx_media_port(workdir, "callee"))
        wait_for_calls(call_pbx, token, answered)
        index = caller.send_digit(to_caller, 10, 0)  # *
        caller.send_digit(to_caller, 1, index)  # 1
        time.sleep(0.3)
        talk(caller, to_caller, callee, to_callee, a_hz=600, b_hz=1500, milliseconds=1500)
        uac.finish()
        uas.finish()
    finally:
        uas.kill()
        caller.close()
        callee.close()
    name = _new_cdr(receiver)["recording"]
    assert name.endswith("-2001-2002-Internal.wav"), name
    with wave.open(str(call_pbx.data_dir / "recordings" / name)) as wav:
        pcm = wav.readframes(wav.getnframes())
    control = goertzel(pcm, 8000, 1000)
    assert goertzel(pcm, 8000, 600) > 20 * control and goertzel(pcm, 8000, 1500) > 20 * control
    assert token


def test_every_party_of_a_conference_is_recorded(
    call_pbx: PbxProcess, callee_port: int, workdir: Path, receiver: EventReceiver, recorded: str
) -> None:
    """2001's recorded call becomes three-way (call/add_member): the one file holds
    what each of the three phones said, the added one's too (tones that are no
    harmonics of each other: a PCMU tone has some)."""
    tones = {"caller": 600, "agent": 1450, "third": 2150}
    third_port, third_dir = free_port(udp_too=True), workdir / "third"
    third_dir.mkdir()
    register(call_pbx, "2003", third_port, third_dir)
    caller, agent, third = RtpPhone("PCMU", 0), RtpPhone("PCMU", 0), RtpPhone("PCMU", 0)
    uas = answer(call_pbx, callee_port, workdir, rtp=agent.port)
    third_sipp = answer(call_pbx, third_port, third_dir, rtp=third.port)
    uac = call(
        call_pbx, "2001", "2002", workdir, scenario="uac_media_wait_bye.xml", rtp=caller.port
    )
    try:
        current = members(call_pbx, recorded, ["ANSWERED", "ANSWER"])
        invite = {"channelid": current["members"][0]["ext"]["channelid"], "number": "2003"}
        assert call_pbx.api("call/add_member", invite, token=recorded)["status"] == "Success"
        members(call_pbx, recorded, ["ANSWERED", "ANSWER", "ANSWER"])
        talk3(
            [
                (caller, (HOST, pbx_media_port(workdir, "caller")), tones["caller"]),
                (agent, (HOST, pbx_media_port(workdir, "callee")), tones["agent"]),
                (third, (HOST, pbx_media_port(third_dir, "callee")), tones["third"]),
            ]
        )
        call_pbx.api("call/hangup", {"callid": current["callid"]}, token=recorded)
        no_calls(call_pbx, recorded)
        for process in (uac, uas, third_sipp):
            process.finish()
    finally:
        for process in (uac, uas, third_sipp):
            process.kill()
        for phone in (caller, agent, third):
            phone.close()
        unregister(call_pbx, "2003", third_port, third_dir)
    name = _new_cdr(receiver)["recording"]
    with wave.open(str(call_pbx.data_dir / "recordings" / name)) as wav:
        pcm = wav.readframes(wav.getnframes())
    powers = {name: goertzel(pcm, 8000, hz) for name, hz in tones.items()}
    control = goertzel(pcm, 8000, 1000)
    loudest = max(powers.values())
    for name, power in powers.items():  # each there, and about as loud as the others
        assert power > 50 * control and power > loudest / 30, (name, powers, control)


def test_a_recording_follows_an_attended_transfer(
    call_pbx: PbxProcess, callee_port: int, workdir: Path, receiver: EventReceiver, recorded: str
) -> None:
    """2001's recorded call to 2002: 2001 consults 2003 and completes; what 2002 and
    2003 then say (each on an endpoint of its own) is in the call's one file."""
    target_port, target_dir = free_port(udp_too=True), workdir / "target"
    target_dir.mkdir()
    register(call_pbx, "2003", target_port, target_dir)
    held, target = RtpPhone("PCMU", 0), RtpPhone("PCMU", 0)
    uas = answer(call_pbx, callee_port, workdir, scenario="uas_held.xml", rtp=held.port)
    target_sipp = answer(call_pbx, target_port, target_dir, rtp=target.port)
    uac = call(call_pbx, "2001", "2002", workdir, scenario="uac_media_wait_bye.xml")
    try:
        current = members(call_pbx, recorded, ["ANSWERED", "ANSWER"])
        call_id, b = current["callid"], current["members"][0]["ext"]["channelid"]
        body = {"channelid": b, "tonumber": "2003"}
        assert call_pbx.api("call/attended_transfer", body, token=recorded)["status"] == "Success"
        members(call_pbx, recorded, ["ANSWERED", "HOLD", "ANSWER"])
        done = {"channelid": b, "operate": "complete"}
        assert call_pbx.api("call/attended_transfer_operate", done, token=recorded)["status"] == (
            "Success"
        )
        uac.finish()  # the transferor left
        members(call_pbx, recorded, ["ANSWERED", "ANSWER"])
        to_held = (HOST, pbx_media_port(workdir, "callee"))
        to_target = (HOST, pbx_media_port(target_dir, "callee"))
        talk(held, to_held, target, to_target, a_hz=600, b_hz=2150, milliseconds=1200)
        call_pbx.api("call/hangup", {"callid": call_id}, token=recorded)
        no_calls(call_pbx, recorded)
        uas.finish()
        target_sipp.finish()
    finally:
        for process in (uac, uas, target_sipp):
            process.kill()
        for phone in (held, target):
            phone.close()
        unregister(call_pbx, "2003", target_port, target_dir)
    name = _new_cdr(receiver)["recording"]
    with wave.open(str(call_pbx.data_dir / "recordings" / name)) as wav:
        pcm = wav.readframes(wav.getnframes())
    control = goertzel(pcm, 8000, 1000)
    powers = {hz: goertzel(pcm, 8000, hz) for hz in (600, 2150)}
    assert min(powers.values()) > 50 * control, (powers, control)  # both, the target too
