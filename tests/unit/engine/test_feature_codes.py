"""Reading the settings feature codes a phone dials."""

from __future__ import annotations

import pytest

from kilopbx.engine.feature_codes import SettingCode, setting_code


@pytest.mark.parametrize(
    ("dialled", "code"),
    [
        ("*72", SettingCode("always", True)),
        ("*722003", SettingCode("always", True, "2003")),
        ("*73", SettingCode("always", False)),
        ("*902003", SettingCode("busy", True, "2003")),
        ("*91", SettingCode("busy", False)),
        ("*92", SettingCode("no_answer", True)),
        ("*93", SettingCode("no_answer", False)),
        ("*78", SettingCode("dnd", True)),
        ("*79", SettingCode("dnd", False)),
    ],
)
def test_codes(dialled: str, code: SettingCode) -> None:
    assert setting_code(dialled) == code


@pytest.mark.parametrize(
    "dialled",
    ["2003", "*7", "*7320", "*782003", "*72abc", "*72" + "1" * 17, "*72٣", "*72 2003", "", "*"],
)
def test_what_is_no_settings_code(dialled: str) -> None:
    assert setting_code(dialled) is None
