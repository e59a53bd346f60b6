"""login, token/refresh, heartbeat, logout, lockout and expiry against a running PBX."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from tests.harness import API_PASSWORD, API_USER, PbxProcess, md5

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def creds(**extra: object) -> dict[str, object]:
    return {"username": API_USER, "password": md5(API_PASSWORD), **extra}


def test_login_returns_token_refresh_token_and_transport(pbx: PbxProcess) -> None:
    answer = pbx.api("login", creds(version="2.0.0", port="9091", url="hooks", urltag="0"))
    assert answer["status"] == "Success"
    assert HEX32.match(answer["token"]) and HEX32.match(answer["refreshtoken"])
    assert answer["transport"] == "HTTP"
    assert set(answer) == {"status", "token", "refreshtoken", "transport"}


def test_login_accepts_numbers_upper_case_md5_and_any_content_type(pbx: PbxProcess) -> None:
    body = json.dumps(creds(password=md5(API_PASSWORD).upper(), port=9091, urltag=1)).encode()
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        status, _, raw = pbx.http(
            "/api/v2.0.0/login", body=body, headers={"Content-Type": content_type}
        )
        assert status == 200 and json.loads(raw)["status"] == "Success"


@pytest.mark.parametrize(
    ("body", "errno"),
    [
        (creds(password=md5("wrong")), "20003"),
        (creds(username="someoneelse"), "20003"),
        (creds(password=API_PASSWORD), "20003"),  # plain text instead of MD5
        ({"password": md5(API_PASSWORD)}, "10004"),
        ({"username": API_USER, "password": ""}, "10004"),
        ({"username": ["x"], "password": md5(API_PASSWORD)}, "10004"),
        (creds(port="abc"), "20008"),
        (creds(port=0), "20008"),
        (creds(port="70000"), "20008"),
        (creds(url="x" * 600), "20000"),
    ],
)
def test_login_failures(pbx: PbxProcess, body: dict[str, object], errno: str) -> None:
    assert pbx.api("login", body) == {"status": "Failed", "errno": errno}


@pytest.mark.parametrize(
    ("raw", "errno"),
    [
        (b"", "20007"),
        (b"{}", "20007"),
        (b"not json", "20000"),
        (b"[1, 2]", "20000"),
        (b'"text"', "20000"),
        (b'{"username": ', "20000"),
        (b"<xml><login/></xml>", "10002"),
        (b"\xff\xfe\x00garbage", "20000"),
        (b"[" * 100_000, "20000"),
    ],
)
def test_malformed_bodies(pbx: PbxProcess, raw: bytes, errno: str) -> None:
    assert pbx.api("login", raw=raw) == {"status": "Failed", "errno": errno}
    assert pbx.api("login", creds())["status"] == "Success"  # still healthy


def test_two_megabyte_body_is_refused_and_server_stays_healthy(pbx: PbxProcess) -> None:
    token = pbx.login()
    big = b'{"x": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    assert pbx.api("heartbeat", raw=big, token=token) == {"status": "Failed", "errno": "20000"}
    assert pbx.api("deviceinfo/query", token=token)["status"] == "Success"


def test_token_checks(pbx: PbxProcess) -> None:
    assert pbx.api("deviceinfo/query") == {"status": "Failed", "errno": "20005"}
    assert pbx.api("deviceinfo/query", token="") == {"status": "Failed", "errno": "20005"}
    assert pbx.api("deviceinfo/query", token="0" * 32) == {"status": "Failed", "errno": "20004"}
    token = pbx.login()
    assert pbx.api("deviceinfo/query", token=token.upper()) == {
        "status": "Failed",
        "errno": "20004",
    }


def test_routing_errors(pbx: PbxProcess) -> None:
    token = pbx.login()
    assert pbx.api("no/such/thing", token=token) == {"status": "Failed", "errno": "10003"}
    assert pbx.api("", token=token) == {"status": "Failed", "errno": "20009"}
    assert pbx.api("deviceinfo/query", token=token, method="GET") == {
        "status": "Failed",
        "errno": "20001",
    }
    assert pbx.api("login", creds(), method="PUT") == {"status": "Failed", "errno": "20001"}
    status, _, _ = pbx.http("/index.html", method="GET")
    assert status == 404
    status, _, _ = pbx.http("/api/v1.1.0/login", body=b"{}")
    assert status == 404


def test_envelope_headers_and_cors(pbx: PbxProcess) -> None:
    status, headers, _ = pbx.http("/api/v2.0.0/login", body=json.dumps(creds()).encode())
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert headers["Connection"] == "close"
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS, PUT, DELETE"
    origin = "https://crm.example.test"
    _, headers, _ = pbx.http(
        "/api/v2.0.0/login", body=json.dumps(creds()).encode(), headers={"Origin": origin}
    )
    assert headers["Access-Control-Allow-Origin"] == origin
    assert headers["Access-Control-Allow-Credentials"] == "true"
    status, headers, body = pbx.http("/api/v2.0.0/extension/list", method="OPTIONS")
    assert (status, body) == (200, b"")
    assert headers["Access-Control-Allow-Headers"] == "Content-Type"
    assert headers["Access-Control-Max-Age"] == "600"


def test_https_on_the_same_port(pbx: PbxProcess) -> None:
    import http.client
    import ssl

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", pbx.http_port, context=ctx, timeout=10)
    conn.request("POST", "/api/v2.0.0/login", body=json.dumps(creds()))
    answer = json.loads(conn.getresponse().read())
    conn.close()
    assert answer["status"] == "Success"


def test_refresh_replaces_both_tokens(pbx: PbxProcess) -> None:
    first = pbx.api("login", creds(version="2.0.0"))
    second = pbx.api("token/refresh", {"refreshtoken": first["refreshtoken"]})
    assert second["status"] == "Success"
    assert set(second) == {"status", "token", "refreshtoken"}
    assert second["token"] != first["token"]
    assert pbx.api("deviceinfo/query", token=second["token"])["status"] == "Success"
    assert pbx.api("deviceinfo/query", token=first["token"])["errno"] == "20004"
    assert pbx.api("token/refresh", {"refreshtoken": first["refreshtoken"]})["errno"] == "20004"
    assert pbx.api("token/refresh", {})["errno"] == "20005"
    assert pbx.api("token/refresh", {"refreshtoken": "f" * 32})["errno"] == "20004"


def test_logout_ends_token_and_refresh_token(pbx: PbxProcess) -> None:
    answer = pbx.api("login", creds())
    assert pbx.api("logout", token=answer["token"]) == {"status": "Success"}
    assert pbx.api("logout", token=answer["token"])["errno"] == "20004"
    assert pbx.api("deviceinfo/query", token=answer["token"])["errno"] == "20004"
    assert pbx.api("token/refresh", {"refreshtoken": answer["refreshtoken"]})["errno"] == "20004"


def test_heartbeat_with_no_body_empty_object_and_fields(pbx: PbxProcess) -> None:
    token = pbx.login()
    assert pbx.api("heartbeat", token=token) == {"status": "Success"}
    assert pbx.api("heartbeat", {}, token=token) == {"status": "Success"}
    body = {"ipaddr": "127.0.0.1", "port": 9191, "url": "pbx-events", "urlflag": "0"}
    assert pbx.api("heartbeat", body, token=token) == {"status": "Success"}
    assert pbx.api("heartbeat", {"port": "99999"}, token=token)["errno"] == "20008"
    assert pbx.api("heartbeat", raw=b"nope", token=token)["errno"] == "20000"


def test_lockout_after_five_failures_and_unlock(pbx: PbxProcess) -> None:
    for _ in range(5):
        assert pbx.api("login", creds(password=md5("bad")))["errno"] == "20003"
    # locked: even the right password is refused without being checked
    assert pbx.api("login", creds())["errno"] == "20002"
    assert pbx.api("token/refresh", {"refreshtoken": "a" * 32})["errno"] == "20002"
    result = subprocess.run(
        [sys.executable, "-m", "kilopbx.cli", "unlock-ip", "127.0.0.1"],
        env=pbx.env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert "unlocked" in result.stdout
    assert pbx.api("login", creds())["status"] == "Success"


def test_success_resets_the_failure_counter(pbx: PbxProcess) -> None:
    for _ in range(4):
        pbx.api("login", creds(password=md5("bad")))
    pbx.login()
    for _ in range(4):
        assert pbx.api("login", creds(password=md5("bad")))["errno"] == "20003"
    assert pbx.api("login", creds())["status"] == "Success"


def test_lockout_ends_by_itself(make_pbx: Callable[..., PbxProcess]) -> None:
    pbx = make_pbx({"KILOPBX_API_LOCKOUT_SECONDS": "1"})
    for _ in range(5):
        pbx.api("login", creds(password=md5("bad")))
    assert pbx.api("login", creds())["errno"] == "20002"
    deadline = time.monotonic() + 10
    while pbx.api("login", creds())["status"] != "Success":
        assert time.monotonic() < deadline, "lockout never ended"
        time.sleep(0.2)


def test_idle_expiry_and_sliding_window(make_pbx: Callable[..., PbxProcess]) -> None:
    pbx = make_pbx({"KILOPBX_API_TOKEN_IDLE": "2"})
    kept, idle = pbx.login(), pbx.login()
    started = time.monotonic()
    # keep one token alive with heartbeats spaced well inside the window
    while time.monotonic() - started < 3.5:
        assert pbx.api("heartbeat", token=kept) == {"status": "Success"}
        time.sleep(0.5)
    assert pbx.api("deviceinfo/query", token=kept)["status"] == "Success"
    assert pbx.api("deviceinfo/query", token=idle) == {"status": "Failed", "errno": "20006"}
    assert pbx.api("logout", token=idle)["errno"] == "20006"


def test_allowed_ip_list(make_pbx: Callable[..., PbxProcess]) -> None:
    pbx = make_pbx({"KILOPBX_API_ALLOWED_IPS": "10.1.2.0/24"})
    assert pbx.api("login", creds()) == {"status": "Failed", "errno": "20015"}
    other = make_pbx({"KILOPBX_API_ALLOWED_IPS": "10.1.2.0/24, 127.0.0.1"}, name="other")
    assert other.api("login", creds())["status"] == "Success"


def test_api_disabled(make_pbx: Callable[..., PbxProcess]) -> None:
    pbx = make_pbx({"KILOPBX_API_ENABLED": "no"})
    assert pbx.api("login", creds())["errno"] == "20003"
    assert pbx.api("deviceinfo/query", token="a" * 32)["errno"] == "30003"


def test_sessions_survive_restart_and_credential_change_ends_them(
    make_pbx: Callable[..., PbxProcess],
) -> None:
    pbx = make_pbx()
    token = pbx.login()
    pbx.restart()
    assert pbx.api("deviceinfo/query", token=token)["status"] == "Success"
    pbx.stop()
    pbx.env["KILOPBX_API_PASSWORD"] = "Another9Secret8"
    pbx.start()
    assert pbx.api("deviceinfo/query", token=token)["errno"] == "20004"


def test_session_limit_evicts_the_longest_idle(pbx: PbxProcess) -> None:
    tokens = [pbx.login() for _ in range(32)]
    for token in tokens[1:]:
        pbx.api("heartbeat", token=token)
    pbx.login()
    assert pbx.api("heartbeat", token=tokens[0])["errno"] == "20004"
    assert pbx.api("heartbeat", token=tokens[1])["status"] == "Success"


def test_deviceinfo_shape(pbx: PbxProcess) -> None:
    info = pbx.api("deviceinfo/query", token=pbx.login())["deviceinfo"]
    assert list(info) == [
        "devicename",
        "sn",
        "hardwarever",
        "firmwarever",
        "systemtime",
        "uptime",
        "extensionstatus",
    ]
    assert all(isinstance(v, str) for v in info.values())
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC[+-]\d+(:\d\d)?$", info["systemtime"])
    assert re.match(r"^(\d+days )?\d\d:\d\d:\d\d$", info["uptime"])
    assert re.match(r"^\d+/\d+$", info["extensionstatus"])
    assert re.match(r"^[A-Z0-9]{12}$", info["sn"])


def test_api_credentials_command_shows_generated_password(
    make_pbx: Callable[..., PbxProcess],
) -> None:
    pbx = make_pbx({"KILOPBX_API_PASSWORD": ""})
    assert b"generated password" in pbx.log_path.read_bytes()
    env = dict(pbx.env)
    result = subprocess.run(
        [sys.executable, "-m", "kilopbx.cli", "api-credentials"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    password = result.stdout.split("password:")[1].strip()
    answer = pbx.api("login", {"username": API_USER, "password": md5(password)})
    assert answer["status"] == "Success"
    pbx.restart()
    assert b"generated password" not in pbx.log_path.read_bytes().split(b"KiloPBX serving")[-1]
