"""Numbers written with non-ASCII digits ('²', Arabic-Indic, full-width) are refused with
the field's error, never a traceback, and never silently read as the ASCII number."""

from __future__ import annotations

from tests.harness import API_PASSWORD, API_USER, PbxProcess, md5

BAD_PORTS = ["²", "٨٢٦٠", "８２６０", "8260²", "0" * 5000 + "8260"]
BAD_PORT_ERRNO = "20008"


def test_login_port_with_foreign_digits_is_refused(pbx: PbxProcess) -> None:
    for port in BAD_PORTS:
        body = {"username": API_USER, "password": md5(API_PASSWORD), "port": port}
        answer = pbx.api("login", body)
        assert answer == {"status": "Failed", "errno": BAD_PORT_ERRNO}, port
    assert "Traceback" not in pbx.log_path.read_text(errors="replace")
    # the same login with an ASCII port still works
    assert pbx.login(port="8260")
