"""How the service is configured: a TOML file, the HTTPS-only port, bad settings."""

from __future__ import annotations

import http.client
import json
import os
import ssl
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.harness import API_PASSWORD, API_USER, PbxProcess, free_port, md5


def test_toml_file_with_environment_overrides(
    make_pbx: Callable[..., PbxProcess], tmp_path: Path
) -> None:
    config = tmp_path / "kilopbx.toml"
    # the file asks for port 1 (not free to bind); the environment's port wins
    config.write_text('[http]\nport = 1\n[device]\nname = "Hotel Aurora PBX"\n')
    pbx = make_pbx(args=["--config", str(config)])
    info = pbx.api("deviceinfo/query", token=pbx.login())["deviceinfo"]
    assert info["devicename"] == "Hotel Aurora PBX"


def test_https_only_port(make_pbx: Callable[..., PbxProcess]) -> None:
    https_port = free_port()
    make_pbx({"KILOPBX_HTTPS_PORT": str(https_port)})
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", https_port, context=ctx, timeout=10)
    body = json.dumps({"username": API_USER, "password": md5(API_PASSWORD)})
    conn.request("POST", "/api/v2.0.0/login", body=body)
    assert json.loads(conn.getresponse().read())["status"] == "Success"
    conn.close()
    plain = http.client.HTTPConnection("127.0.0.1", https_port, timeout=10)
    try:
        plain.request("POST", "/api/v2.0.0/login", body=body)
        plain.getresponse()
        raise AssertionError("plain HTTP answered on the HTTPS-only port")
    except (http.client.RemoteDisconnected, ConnectionError):
        pass
    finally:
        plain.close()


def test_bad_settings_stop_the_start_with_a_clear_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[http]\nprot = 8088\n")
    for args, env in (
        (["--config", str(bad)], {}),
        ([], {"KILOPBX_RTP_PORTS": "30000"}),
        ([], {"KILOPBX_SIP_PORT": "sip"}),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "kilopbx.cli", "serve", *args],
            env={"KILOPBX_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin", **env},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 2, result
        assert result.stderr.startswith("kilopbx: "), result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()  # nothing was created for a refused start


def test_a_port_in_use_stops_the_start_with_a_clear_message(tmp_path: Path) -> None:
    import os
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        env = {
            **os.environ,
            "KILOPBX_DATA_DIR": str(tmp_path / "data"),
            "KILOPBX_BIND": "127.0.0.1",
            "KILOPBX_HTTP_PORT": str(taken.getsockname()[1]),
            "KILOPBX_SIP_PORT": str(free_port(udp_too=True)),
        }
        result = subprocess.run(
            [sys.executable, "-m", "kilopbx.cli", "serve"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        taken.close()
    assert result.returncode == 1
    assert "kilopbx: cannot listen for the API on 127.0.0.1:" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_registrar_numbers_stop_the_start_with_a_clear_message(tmp_path: Path) -> None:
    # int() and float() ended in a traceback or took them
    for var, value in (
        ("KILOPBX_REGISTRAR_MIN_EXPIRES", "²"),
        ("KILOPBX_REGISTRAR_FLUSH_INTERVAL", "nan"),
    ):  # more cases in tests/unit/registrar/test_config.py
        result = subprocess.run(
            [sys.executable, "-m", "kilopbx.cli", "serve"],
            env={
                **{k: v for k, v in os.environ.items() if k in ("PATH", "PYTHONPATH")},
                "KILOPBX_DATA_DIR": str(tmp_path / "data"),
                "KILOPBX_BIND": "127.0.0.1",
                "KILOPBX_HTTP_PORT": str(free_port()),
                "KILOPBX_SIP_PORT": str(free_port(udp_too=True)),
                "KILOPBX_TCP_EVENT_PORT": str(free_port()),
                "KILOPBX_MEDIA_WORKERS": "1",
                var: value,
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2, result
        assert f"kilopbx: {var} must be" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr, result.stderr
