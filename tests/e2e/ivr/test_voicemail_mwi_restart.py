"""Message-waiting subscriptions survive a restart of the PBX: a phone (a raw UDP
socket here) subscribes to 2002's box with its digest credentials; after the PBX
restarts it gets a NOTIFY of the counts in the same dialog at once, and another when
a message is deleted; its refresh is answered 200 (not 481), and once it ends the
subscription the next start has nothing to take up."""

from __future__ import annotations

import json
import secrets
import socket

import pytest

from kilopbx.sip.digest import build_authorization, parse_challenge
from kilopbx.sip.message import SipRequest, SipResponse
from kilopbx.sip.parser import parse_message
from tests.e2e.calls.peers import PASSWORD
from tests.e2e.ivr.test_voicemail_api import plant
from tests.harness import HOST, PbxProcess

pytestmark = pytest.mark.peers


class Subscriber:
    def __init__(self, pbx: PbxProcess, number: str) -> None:
        self.pbx, self.number = pbx, number
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.sock.settimeout(10.0)
        self.port = self.sock.getsockname()[1]
        self.uri = f"sip:{number}@{HOST}:{pbx.sip_port}"
        self.call_id, self.tag, self.to_tag = f"{secrets.token_hex(8)}@test", "sub1", ""
        self.cseq = 0

    def subscribe(self, expires: int) -> SipResponse:
        authorization = ""
        for _ in range(2):
            self.cseq += 1
            to = f"<sip:{self.number}@{HOST}>" + (f";tag={self.to_tag}" if self.to_tag else "")
            lines = [
                f"SUBSCRIBE {self.uri} SIP/2.0",
                f"Via: SIP/2.0/UDP {HOST}:{self.port};branch=z9hG4bK{secrets.token_hex(6)};rport",
                f"From: <sip:{self.number}@{HOST}>;tag={self.tag}",
                f"To: {to}",
                f"Call-ID: {self.call_id}",
                f"CSeq: {self.cseq} SUBSCRIBE",
                f"Contact: <sip:{self.number}@{HOST}:{self.port}>",
                "Max-Forwards: 70",
                "Event: message-summary",
                "Accept: application/simple-message-summary",
                f"Expires: {expires}",
            ]
            lines += [authorization] if authorization else []
            text = "\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n"
            self.sock.sendto(text.encode(), (HOST, self.pbx.sip_port))
            response = self._response()
            if response.status != 401:
                self.to_tag = self.to_tag or (response.to.tag or "")
                return response
            challenge = parse_challenge(response.headers.get_all("WWW-Authenticate")[0])
            value = build_authorization(
                challenge, method="SUBSCRIBE", uri=self.uri, username=self.number,
                password=PASSWORD,
            )  # fmt: skip
            authorization = f"Authorization: {value}"
        raise AssertionError("challenged twice")

    def _response(self) -> SipResponse:
        while True:
            message = parse_message(self.sock.recv(65535))
            if isinstance(message, SipResponse) and message.status >= 200:
                return message
            if isinstance(message, SipRequest):
                self._answer(message)

    def notify(self) -> SipRequest:
        """The next NOTIFY (answered 200)."""
        while True:
            message = parse_message(self.sock.recv(65535))
            if isinstance(message, SipRequest) and message.method == "NOTIFY":
                self._answer(message)
                return message

    def _answer(self, request: SipRequest) -> None:
        head = "".join(
            f"{name}: {request.headers.get_all(name)[0]}\r\n"
            for name in ("Via", "From", "To", "Call-ID", "CSeq")
        )
        self.sock.sendto(f"SIP/2.0 200 OK\r\n{head}Content-Length: 0\r\n\r\n".encode(),
                         (HOST, self.pbx.sip_port))  # fmt: skip

    def close(self) -> None:
        self.sock.close()


def counts(notify: SipRequest) -> str:
    for line in notify.body.decode().splitlines():
        if line.startswith("Voice-Message:"):
            return line.split(":", 1)[1].split("(")[0].strip()
    raise AssertionError(notify.body)


def in_dialog(notify: SipRequest, subscriber: Subscriber) -> bool:
    return (
        notify.call_id == subscriber.call_id
        and notify.to.tag == subscriber.tag
        and notify.from_.tag == subscriber.to_tag
    )


def test_a_subscription_survives_a_restart(ivr_pbx: PbxProcess) -> None:
    token = ivr_pbx.login()
    plant(ivr_pbx, "2002", "unread", "msg0000.wav")
    plant(ivr_pbx, "2002", "unread", "msg0001.wav")
    subscriber = Subscriber(ivr_pbx, "2002")
    try:
        assert subscriber.subscribe(600).status == 200
        first = subscriber.notify()
        assert counts(first) == "2/0" and in_dialog(first, subscriber)
        ivr_pbx.restart()
        again = subscriber.notify()  # told the counts at once, in the same dialog
        assert in_dialog(again, subscriber) and counts(again) == "2/0"
        assert again.cseq[0] > first.cseq[0]
        assert again.headers.get("Subscription-State") or "".startswith("active")
        one = {"number": "2002", "voicemailfile": "msg0000.wav", "voicemailstatus": "unread"}
        assert ivr_pbx.api("voicemail/delete", one, token=token)["status"] == "Success"
        changed = subscriber.notify()
        assert in_dialog(changed, subscriber) and counts(changed) == "1/0"
        assert subscriber.subscribe(600).status == 200  # a refresh, not a 481
        subscriber.notify()
        assert subscriber.subscribe(0).status == 200  # ends it
        final = subscriber.notify()
        assert final.headers.get("Subscription-State") or "".startswith("terminated")
        ivr_pbx.restart()
        saved = json.loads((ivr_pbx.data_dir / "voicemail" / "mwi.json").read_text())
        assert saved == []
    finally:
        subscriber.close()
