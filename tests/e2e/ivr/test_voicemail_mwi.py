"""Message-waiting indication (RFC 3842) against a running PBX: sipp subscribes to
2002's mailbox with digest credentials and sees the counts in the first NOTIFY and
in one after each `voicemail/delete`; a registered phone that did not subscribe gets
an unsolicited NOTIFY; malformed SUBSCRIBEs get their RFC answers."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest

from kilopbx.sip.message import SipRequest
from kilopbx.sip.parser import parse_message
from tests.e2e.calls.peers import PASSWORD, WAIT, _common, register, unregister
from tests.e2e.ivr.test_voicemail_api import plant
from tests.e2e.sipp.runner import User, write_users
from tests.harness import HOST, PbxProcess, free_port

pytestmark = pytest.mark.peers
SCENARIO = Path(__file__).resolve().parent / "scenarios" / "mwi_subscribe.xml"


def wait_for_log(workdir: Path, text: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        for log in workdir.glob("mwi_subscribe_*_logs.log"):
            if text in log.read_text(errors="replace"):
                return
        assert process.poll() is None, process.communicate()[0][-3000:]
        time.sleep(0.05)
    raise AssertionError(f"sipp never logged {text}")


def test_a_subscriber_sees_the_counts_change(ivr_pbx: PbxProcess, tmp_path: Path) -> None:
    token = ivr_pbx.login()
    plant(ivr_pbx, "2002", "unread", "msg0000.wav")
    plant(ivr_pbx, "2002", "unread", "msg0001.wav")
    users = write_users(tmp_path / "mwi.csv", [User("2002", "2002", PASSWORD)], expires=600)
    command = [*_common(ivr_pbx, free_port(udp_too=True)), "-sf", str(SCENARIO),
               "-inf", str(users), "-m", "1", "-trace_logs"]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        wait_for_log(tmp_path, "NOTIFY-1", process)
        one = {"number": "2002", "voicemailfile": "msg0000.wav", "voicemailstatus": "unread"}
        assert ivr_pbx.api("voicemail/delete", one, token=token)["status"] == "Success"
        wait_for_log(tmp_path, "NOTIFY-2", process)
        rest = {"number": "2002", "voicemailfile": "all", "voicemailstatus": "all"}
        assert ivr_pbx.api("voicemail/delete", rest, token=token)["status"] == "Success"
        out, _ = process.communicate(timeout=WAIT)
        assert process.returncode == 0, out[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def _subscribe(port: int, pbx: PbxProcess, **headers: str) -> bytes:
    fields = {
        "Via": f"SIP/2.0/UDP {HOST}:{port};branch=z9hG4bK{time.monotonic_ns()};rport",
        "From": f"<sip:2002@{HOST}>;tag=t{port}",
        "To": f"<sip:2002@{HOST}>",
        "Call-ID": f"mwi-{time.monotonic_ns()}@test",
        "CSeq": "1 SUBSCRIBE",
        "Contact": f"<sip:2002@{HOST}:{port}>",
        "Max-Forwards": "70",
        "Event": "message-summary",
        **headers,
    }
    lines = [f"SUBSCRIBE sip:2002@{HOST}:{pbx.sip_port} SIP/2.0"]
    lines += [f"{name}: {value}" for name, value in fields.items() if value]
    return ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()


def test_bad_subscribes_get_their_answers(ivr_pbx: PbxProcess) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        sock.settimeout(5.0)
        port = sock.getsockname()[1]
        cases = [
            ({"Event": "presence"}, 489),
            ({"Event": ""}, 489),
            ({"Accept": "application/pidf+xml"}, 406),
            ({"Expires": "5"}, 423),
            ({"Expires": "soon"}, 400),
            ({}, 401),  # no credentials: challenged like a REGISTER
            (
                {
                    "Authorization": 'Digest username="2002", realm="x", nonce="y", '
                    'uri="sip:2002@127.0.0.1", response="00"'
                },
                401,
            ),
        ]
        for headers, status in cases:
            sock.sendto(_subscribe(port, ivr_pbx, **headers), (HOST, ivr_pbx.sip_port))
            while True:
                reply = parse_message(sock.recvfrom(65535)[0])
                if not isinstance(reply, SipRequest) and reply.status >= 200:
                    break
            assert reply.status == status, (headers, reply.status)


def test_a_registered_phone_that_did_not_subscribe_is_told(
    ivr_pbx: PbxProcess, tmp_path: Path
) -> None:
    token = ivr_pbx.login()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
        sock.close()  # sipp registers from this port, then we listen on it
        register(ivr_pbx, "2001", port, tmp_path)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((HOST, port))
            sock.settimeout(10.0)
            plant(ivr_pbx, "2001", "read", "msg0003.wav")
            plant(ivr_pbx, "2001", "unread", "msg0000.wav")
            wanted = {"number": "2001", "voicemailfile": "msg0003.wav", "voicemailstatus": "read"}
            assert ivr_pbx.api("voicemail/delete", wanted, token=token)["status"] == "Success"
            while True:
                data, source = sock.recvfrom(65535)
                notify = parse_message(data)
                if isinstance(notify, SipRequest) and notify.method == "NOTIFY":
                    break
            assert notify.headers.get("Event") == "message-summary"
            body = notify.body.decode()
            assert "Messages-Waiting: yes" in body and "Voice-Message: 1/0" in body, body
            headers = "".join(
                f"{name}: {notify.headers.get(name)}\r\n"
                for name in ("Via", "From", "To", "Call-ID", "CSeq")
            )
            sock.sendto(f"SIP/2.0 200 OK\r\n{headers}Content-Length: 0\r\n\r\n".encode(), source)
    finally:
        unregister(ivr_pbx, "2001", port, tmp_path)
