"""REGISTER with SHA-256 and MD5 digest over a real UDP socket (RFC 8760 / RFC 7616).

Neither sipp 3.6.1 nor baresip 1.0.0 can answer a SHA-256 challenge, so this test is the
client: it builds the requests by hand and computes the digest with hashlib from the
RFC's formulas, independently of KiloPBX's own digest code.
"""

from __future__ import annotations

import hashlib
import re
import socket
import uuid

import pytest

from tests.harness import API_PASSWORD, API_USER, EventReceiver, PbxProcess, md5

CLIENT = "127.0.0.1"


def _register(
    number: str,
    call_id: str,
    cseq: int,
    port: int,
    pbx_port: int,
    auth: str = "",
    expires: int = 300,
    wildcard: bool = False,
) -> bytes:
    branch = "z9hG4bK" + uuid.uuid4().hex[:16]
    lines = [
        f"REGISTER sip:127.0.0.1:{pbx_port} SIP/2.0",
        f"Via: SIP/2.0/UDP {CLIENT}:{port};branch={branch};rport",
        "Max-Forwards: 70",
        f"From: <sip:{number}@127.0.0.1>;tag=t{number}",
        f"To: <sip:{number}@127.0.0.1>",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} REGISTER",
        "Contact: *" if wildcard else f"Contact: <sip:{number}@{CLIENT}:{port}>",
        f"Expires: {expires}",
        "User-Agent: kilopbx-digest-test",
    ]
    if auth:
        lines.append(f"Authorization: {auth}")
    lines += ["Content-Length: 0", "", ""]
    return "\r\n".join(lines).encode()


def _answer(sock: socket.socket) -> tuple[int, str]:
    while True:
        data = sock.recv(65535).decode()
        status = int(data.split(" ", 2)[1])
        if status >= 200:
            return status, data


def _digest(algorithm: str, user: str, realm: str, password: str, nonce: str, uri: str) -> str:
    h = hashlib.sha256 if algorithm == "SHA-256" else hashlib.md5

    def hx(text: str) -> str:
        return h(text.encode()).hexdigest()

    cnonce, nc = "0a4f113b", "00000001"
    ha1 = hx(f"{user}:{realm}:{password}")
    ha2 = hx(f"REGISTER:{uri}")
    response = hx(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
    return (
        f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
        f'response="{response}", algorithm={algorithm}, qop=auth, nc={nc}, cnonce="{cnonce}"'
    )


@pytest.mark.parametrize("algorithm", ["SHA-256", "MD5"])
def test_register_with_each_offered_algorithm(pbx: PbxProcess, algorithm: str) -> None:
    token = pbx.login()
    info = pbx.api("extension/query", {"number": "1001"}, token=token)["extinfos"][0]
    user, password = info["registername"], info["registerpassword"]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((CLIENT, 0))
    sock.settimeout(5)
    port = sock.getsockname()[1]
    target = ("127.0.0.1", pbx.sip_port)
    call_id = uuid.uuid4().hex
    try:
        sock.sendto(_register("1001", call_id, 1, port, pbx.sip_port), target)
        status, challenge = _answer(sock)
        assert status == 401
        offered = re.findall(r"WWW-Authenticate: (Digest [^\r\n]+)", challenge)
        algorithms = [re.search(r"algorithm=([\w-]+)", c).group(1) for c in offered]  # type: ignore[union-attr]
        assert set(algorithms) == {"MD5", "SHA-256"}
        chosen = offered[algorithms.index(algorithm)]
        realm = re.search(r'realm="([^"]+)"', chosen).group(1)  # type: ignore[union-attr]
        nonce = re.search(r'nonce="([^"]+)"', chosen).group(1)  # type: ignore[union-attr]
        uri = f"sip:127.0.0.1:{pbx.sip_port}"
        good = _digest(algorithm, user, realm, password, nonce, uri)
        bad = _digest(algorithm, user, realm, password + "x", nonce, uri)
        sock.sendto(_register("1001", call_id, 2, port, pbx.sip_port, bad), target)
        assert _answer(sock)[0] == 403
        sock.sendto(_register("1001", call_id, 3, port, pbx.sip_port, good), target)
        status, ok = _answer(sock)
        assert status == 200, ok
        assert f"<sip:1001@{CLIENT}:{port}>;expires=300" in ok
        listed = pbx.api("extension/list", token=token)["extlist"]
        assert {"number": "1001", "status": "Registered"}.items() <= next(
            e for e in listed if e["number"] == "1001"
        ).items()
    finally:
        sock.close()


def register_md5(pbx: PbxProcess, token: str, number: str, *, remove_all: bool = False) -> None:
    """A complete MD5 REGISTER (challenge, answer) from a fresh UDP socket; with
    remove_all, `Contact: *` and `Expires: 0` remove every binding of the extension."""
    expires = 0 if remove_all else 300
    info = pbx.api("extension/query", {"number": number}, token=token)["extinfos"][0]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((CLIENT, 0))
    sock.settimeout(5)
    port = sock.getsockname()[1]
    target = ("127.0.0.1", pbx.sip_port)
    call_id = uuid.uuid4().hex
    try:
        first = _register(
            number, call_id, 1, port, pbx.sip_port, expires=expires, wildcard=remove_all
        )
        sock.sendto(first, target)
        status, challenge = _answer(sock)
        assert status == 401
        chosen = next(
            c
            for c in re.findall(r"WWW-Authenticate: (Digest [^\r\n]+)", challenge)
            if "algorithm=MD5" in c
        )
        realm = re.search(r'realm="([^"]+)"', chosen).group(1)  # type: ignore[union-attr]
        nonce = re.search(r'nonce="([^"]+)"', chosen).group(1)  # type: ignore[union-attr]
        uri = f"sip:127.0.0.1:{pbx.sip_port}"
        auth = _digest("MD5", info["registername"], realm, info["registerpassword"], nonce, uri)
        request = _register(
            number, call_id, 2, port, pbx.sip_port, auth, expires=expires, wildcard=remove_all
        )
        sock.sendto(request, target)
        assert _answer(sock)[0] == 200
    finally:
        sock.close()


def test_extension_status_events_follow_the_status_monitor(
    pbx: PbxProcess, receiver: EventReceiver
) -> None:
    legacy_rx = EventReceiver().start()
    try:
        token = pbx.login(port=receiver.port)
        legacy = {"username": API_USER, "password": md5(API_PASSWORD), "port": legacy_rx.port}
        assert pbx.api("login", legacy)["status"] == "Success"
        off = {"number": "1002", "monitor": "off"}
        assert pbx.api("extension/statusmonitor/update", off, token=token)["status"] == "Success"
        register_md5(pbx, token, "1002")
        register_md5(pbx, token, "1003")
        register_md5(pbx, token, "1003", remove_all=True)

        def statuses(events: list[dict[str, object]]) -> list[dict[str, object]]:
            return [e for e in events if e.get("event", e.get("action")) == "ExtensionStatus"]

        got = statuses(receiver.wait_for(lambda ev: len(statuses(ev)) >= 2))
        sn = got[0]["sn"]
        assert got == [
            {
                "event": "ExtensionStatus",
                "extension": "1003",
                "status": "Registered",
                "registeredIP": "127.0.0.1",
                "sn": sn,
            },
            {"event": "ExtensionStatus", "extension": "1003", "status": "Unregistered", "sn": sn},
        ]
        old = statuses(legacy_rx.wait_for(lambda ev: len(statuses(ev)) >= 2))
        assert old == [
            {"action": "ExtensionStatus", "extension": "1003", "status": "Registered", "sn": sn},
            {"action": "ExtensionStatus", "extension": "1003", "status": "Unregistered", "sn": sn},
        ]
        # the unmonitored extension did register; it only produced no event
        listed = {
            e["number"]: e["status"] for e in pbx.api("extension/list", token=token)["extlist"]
        }
        assert (listed["1002"], listed["1003"]) == ("Registered", "Unavailable")
        assert not [e for e in statuses(receiver.events) if e["extension"] == "1002"]
    finally:
        legacy_rx.stop()
