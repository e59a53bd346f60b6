"""voicemail/delete, voicemail/get_random and GET voicemail/download against a running
PBX (spec 60): one-time strings bound to token, file and addresses; no name escapes
the box; a message being written or broken is "no such file" (20018)."""

from __future__ import annotations

import json
import urllib.parse
import wave
from pathlib import Path
from typing import Any

from tests.harness import PbxProcess


def plant(pbx: PbxProcess, number: str, status: str, name: str, frames: int = 1600) -> Path:
    folder = pbx.data_dir / "voicemail" / number / status
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1), out.setsampwidth(2), out.setframerate(8000)
        out.writeframes(bytes(frames * 2))
    path.with_suffix(".json").write_text(json.dumps({"caller": "2001", "received_at": 1.0e9}))
    return path


def download(pbx: PbxProcess, token: str, random: str, **params: Any) -> tuple[Any, ...]:
    source = params.pop("source_ip", None)
    query = urllib.parse.urlencode({**params, "random": random, "token": token})
    return pbx.http(f"/api/v2.0.0/voicemail/download?{query}", method="GET", source_ip=source)


def grant(pbx: PbxProcess, token: str, **body: str) -> dict[str, Any]:
    return pbx.api("voicemail/get_random", body, token=token)


def test_get_random_then_download_once(ivr_pbx: PbxProcess) -> None:
    token = ivr_pbx.login()
    plant(ivr_pbx, "2002", "read", "msg0007.wav", frames=8000)
    want = {"number": "2002", "voicemailstatus": "read", "voicemailfile": "msg0007.wav"}
    answer = grant(ivr_pbx, token, **want)
    assert answer["status"] == "Success" and len(answer["random"]) == 32, answer
    assert {k: answer[k] for k in want} == want
    status, headers, body = download(ivr_pbx, token, answer["random"], **want)
    assert status == 200 and headers["Content-Type"].startswith("audio/wav")
    assert 'filename="msg0007.wav"' in headers["Content-Disposition"]
    assert body.startswith(b"RIFF") and len(body) == 44 + 16000
    again = download(ivr_pbx, token, answer["random"], **want)[2]
    assert json.loads(again) == {"status": "Failed", "errno": "20017"}  # single use
    # `extid` is accepted for `number`; the message stays where it was (no state change)
    random = grant(ivr_pbx, token, **want)["random"]
    alias = {"extid": "2002", "voicemailstatus": "read", "voicemailfile": "msg0007.wav"}
    assert download(ivr_pbx, token, random, **alias)[0] == 200
    assert (ivr_pbx.data_dir / "voicemail/2002/read/msg0007.wav").is_file()


def test_downloads_refuse_what_they_must(ivr_pbx: PbxProcess) -> None:
    token = ivr_pbx.login()
    plant(ivr_pbx, "2002", "unread", "msg0001.wav")
    half = ivr_pbx.data_dir / "voicemail/2002/unread/msg0002.wav"
    half.write_bytes(b"RIFF\x00\x00")  # half-written header
    (ivr_pbx.data_dir / "voicemail" / "secret.wav").write_bytes(b"RIFF....WAVE")
    base = {"number": "2002", "voicemailstatus": "unread"}
    cases = {
        "../secret.wav": "20018",
        "../../voicemail/secret.wav": "20018",
        "/etc/passwd": "20018",
        "msg0009.wav": "20018",
        "msg0002.wav": "20018",  # not a complete WAV
        "x" * 5000 + ".wav": "20018",
    }
    for name, errno in cases.items():
        assert grant(ivr_pbx, token, **base, voicemailfile=name) == {
            "status": "Failed", "errno": errno}, name  # fmt: skip
    ok = {**base, "voicemailfile": "msg0001.wav"}
    assert grant(ivr_pbx, token, **{**ok, "voicemailstatus": "all"})["errno"] == "20016"
    assert grant(ivr_pbx, token, **{**ok, "voicemailstatus": "x/.."})["errno"] == "20016"
    assert grant(ivr_pbx, token, **{**ok, "number": "9999"})["errno"] == "10006"
    assert grant(ivr_pbx, token, **{**ok, "number": "../2002"})["errno"] == "10006"
    assert grant(ivr_pbx, token, number="2002", voicemailfile="msg0001.wav")["errno"] == "10004"
    bad_ip = {**ok, "allowedip": "10.0.0.1,10.0.0.2"}
    assert grant(ivr_pbx, token, **bad_ip)["errno"] == "20015"
    assert grant(ivr_pbx, token, **{**ok, "allowedip": " "})["status"] == "Success"
    random = grant(ivr_pbx, token, **ok)["random"]
    body = download(ivr_pbx, token, random, **ok, source_ip="127.0.0.2")[2]
    assert json.loads(body) == {"status": "Failed", "errno": "20015"}  # not the app's address
    random = grant(ivr_pbx, token, **ok)["random"]
    body = download(ivr_pbx, token, random, **{**ok, "voicemailfile": "msg0002.wav"})[2]
    assert json.loads(body)["errno"] == "20017"  # bound to its file
    random = grant(ivr_pbx, token, **ok)["random"]
    other = ivr_pbx.login()
    assert json.loads(download(ivr_pbx, other, random, **ok)[2])["errno"] == "20017"  # token
    body = download(ivr_pbx, token, "0" * 32, **ok)[2]
    assert json.loads(body)["errno"] == "20017"
    random = grant(ivr_pbx, token, **{**ok, "allowedip": "127.0.0.2"})["random"]
    (ivr_pbx.data_dir / "voicemail/2002/unread/msg0001.wav").unlink()  # vanished meanwhile
    body = download(ivr_pbx, token, random, **ok, source_ip="127.0.0.2")[2]
    assert json.loads(body) == {"status": "Failed", "errno": "20018"}


def test_delete_selectors_and_errors(ivr_pbx: PbxProcess) -> None:
    token = ivr_pbx.login()
    for status, name in (("unread", "msg0000.wav"), ("unread", "msg0001.wav"),
                         ("read", "msg0000.wav"), ("read", "msg0004.wav")):  # fmt: skip
        plant(ivr_pbx, "2001", status, name)

    def delete(**body: str) -> dict[str, Any]:
        return ivr_pbx.api("voicemail/delete", body, token=token)

    assert delete(number="2001", voicemailfile="msg0000.wav")["errno"] == "10004"
    assert delete(number="2001", voicemailfile="all", voicemailstatus="new")["errno"] == "20016"
    assert delete(number="9999", voicemailfile="all", voicemailstatus="all")["errno"] == "10006"
    missing = delete(number="2001", voicemailfile="msg0099.wav, ../x.wav", voicemailstatus="all")
    assert missing["errno"] == "20018"
    one = delete(number="2001", voicemailfile="msg0000.wav", voicemailstatus="read")
    assert one == {"status": "Success"}
    listed = ivr_pbx.api("voicemail/query", {"number": "2001"}, token=token)["voicemails"][0]
    left = sorted((m["voicemailstatus"], m["voicemailfile"]) for m in listed["voicemail"])
    assert left == [("read", "msg0004.wav"), ("unread", "msg0000.wav"), ("unread", "msg0001.wav")]
    two = delete(number="2001,9999", voicemailfile="msg0000.wav,  msg0004.wav",
                 voicemailstatus="all")  # fmt: skip
    assert two == {"status": "Success"}
    listed = ivr_pbx.api("voicemail/query", {"number": "2001"}, token=token)["voicemails"][0]
    assert [m["voicemailfile"] for m in listed["voicemail"]] == ["msg0001.wav"]
    assert delete(number="2001", voicemailfile="all", voicemailstatus="all")["status"] == "Success"
    assert ivr_pbx.api("voicemail/query", {"number": "2001"}, token=token) == {"status": "Success"}
    # `all` with nothing left is no error
    assert (
        delete(number="2001", voicemailfile="all", voicemailstatus="unread")["status"] == "Success"
    )
