from __future__ import annotations

import pytest

from kilopbx.engine.dtmf_info import InfoDigit, info_body, read_info_digit


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("application/dtmf-relay", b"Signal=5\r\nDuration=160\r\n", InfoDigit("5", 160)),
        ("Application/DTMF-Relay; charset=x", b"Signal= #\nDuration= 250", InfoDigit("#", 250)),
        ("application/dtmf-relay", b"Signal=*\r\n", InfoDigit("*", 100)),
        ("application/dtmf-relay", b"Signal=11\r\nDuration=100", InfoDigit("#", 100)),
        ("application/dtmf-relay", b"Signal=a\r\nDuration=99999999", InfoDigit("A", 100)),
        ("application/dtmf-relay", b"Signal=1\r\nDuration=5", InfoDigit("1", 40)),
        ("application/dtmf", b"7", InfoDigit("7", 100)),
        ("application/dtmf", b"7\r\nDuration=300\r\n", InfoDigit("7", 300)),
    ],
)
def test_digits_are_read(content_type: str, body: bytes, expected: InfoDigit) -> None:
    assert read_info_digit(content_type, body) == expected


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (None, b"Signal=5"),
        ("application/sdp", b"Signal=5"),
        ("application/dtmf-relay", b""),
        ("application/dtmf-relay", b"Signal=16\r\nDuration=100"),  # flash
        ("application/dtmf-relay", b"Signal=55"),
        ("application/dtmf-relay", b"Signal=\xff"),
        ("application/dtmf-relay", b"Duration=100"),
        ("application/dtmf-relay", b"Signal=5" + b" " * 300),
        ("application/dtmf", b"x"),
        ("application/dtmf", b"12"),
    ],
)
def test_anything_else_is_no_digit(content_type: str | None, body: bytes) -> None:
    assert read_info_digit(content_type, body) is None


def test_the_body_we_send() -> None:
    assert info_body("5", 160) == b"Signal=5\r\nDuration=160\r\n"
    assert read_info_digit("application/dtmf-relay", info_body("#", 100)) == InfoDigit("#", 100)
    with pytest.raises(ValueError):
        info_body("55", 100)
