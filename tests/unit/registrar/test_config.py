"""Registrar settings from the environment and the TOML table: numbers are ASCII digits,
anything else is a clear ConfigError naming the setting."""

from __future__ import annotations

import pytest

from kilopbx.apps.registrar.config import RegistrarConfig
from kilopbx.config import ConfigError


def test_numbers_from_environment_and_table() -> None:
    config = RegistrarConfig.load(
        {"registrar": {"max_expires": 1800, "flush_interval": 0.1, "ban_window": 30}},
        {"KILOPBX_REGISTRAR_MIN_EXPIRES": " 120 ", "KILOPBX_REGISTRAR_COMMIT_WAIT": "2.5"},
    )
    assert (config.min_expires, config.max_expires) == (120, 1800)
    assert (config.flush_interval, config.commit_wait, config.ban_window) == (0.1, 2.5, 30.0)
    assert RegistrarConfig.load({}, {"KILOPBX_SIP_FLOOD_LIMIT": "0"}).flood_limit == 0


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("KILOPBX_REGISTRAR_MIN_EXPIRES", "²"),
        ("KILOPBX_REGISTRAR_MIN_EXPIRES", "٣"),
        ("KILOPBX_REGISTRAR_MIN_EXPIRES", "1_000"),
        ("KILOPBX_REGISTRAR_MIN_EXPIRES", "-1"),
        ("KILOPBX_REGISTRAR_MIN_EXPIRES", "60.5"),
        ("KILOPBX_REGISTRAR_MAX_EXPIRES", "9" * 40),
        ("KILOPBX_REGISTRAR_FLUSH_INTERVAL", "nan"),
        ("KILOPBX_REGISTRAR_FLUSH_INTERVAL", "inf"),
        ("KILOPBX_REGISTRAR_FLUSH_INTERVAL", "1e3"),
        ("KILOPBX_REGISTRAR_FLUSH_INTERVAL", "٠.5"),
        ("KILOPBX_SIP_SOURCE_CPU_SHARE", "."),
    ],
)
def test_bad_numbers_name_the_variable(var: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"^{var} must be"):
        RegistrarConfig.load({}, {var: value})


@pytest.mark.parametrize("value", ["sixty", True, -5, 1.5, [60]])
def test_bad_numbers_in_the_table_name_the_setting(value: object) -> None:
    with pytest.raises(ConfigError, match=r"^\[registrar\] min_expires must be"):
        RegistrarConfig.load({"registrar": {"min_expires": value}}, {})
