from pathlib import Path

import pytest

from kilopbx.config import ConfigError, PortRange, load_settings


def test_defaults_without_file_or_environment() -> None:
    s = load_settings(None, env={})
    assert (s.bind, s.http_port, s.sip_port, s.https_port) == ("0.0.0.0", 8088, 5060, None)
    assert s.rtp_ports == PortRange(20000, 29999)
    assert s.api_password is None
    assert s.db_url.endswith("data/kilopbx.db")


def test_environment_wins_over_file(tmp_path: Path) -> None:
    cfg = tmp_path / "k.toml"
    cfg.write_text('[http]\nport = 9000\n[api]\nusername = "file"\nallowed_ips = ["10.0.0.0/8"]\n')
    s = load_settings(cfg, env={"KILOPBX_HTTP_PORT": "9100", "KILOPBX_RTP_PORTS": "30000-30100"})
    assert s.http_port == 9100
    assert s.api_username == "file"
    assert [str(n) for n in s.api_allowed_ips] == ["10.0.0.0/8"]
    assert s.rtp_ports == PortRange(30000, 30100)


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("KILOPBX_HTTP_PORT", "http"),
        ("KILOPBX_SIP_PORT", "70000"),
        ("KILOPBX_RTP_PORTS", "30000"),
        ("KILOPBX_RTP_PORTS", "300-200"),
        ("KILOPBX_API_ALLOWED_IPS", "not-an-ip"),
        ("KILOPBX_REPORT_METHOD", "SMTP"),
        # non-ASCII digits: int() raises on '²' and reads '٨٠٨٠' as 8080
        ("KILOPBX_HTTP_PORT", "²"),
        ("KILOPBX_HTTP_PORT", "٨٠٨٠"),
        ("KILOPBX_RTP_PORTS", "٢٠٠٠٠-29999"),
        ("KILOPBX_MAX_TRUNKS", "5²"),
        ("KILOPBX_API_TOKEN_IDLE", "inf"),
        ("KILOPBX_API_LOCKOUT_SECONDS", "nan"),
        ("KILOPBX_EVENT_RETRY_MAX", "٣٠"),
    ],
)
def test_bad_environment_values_are_refused(var: str, value: str) -> None:
    with pytest.raises(ConfigError):
        load_settings(None, env={var: value})


def test_unknown_or_broken_file_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "k.toml"
    cfg.write_text("[http]\nprot = 1\n")
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings(cfg, env={})
    cfg.write_text("not = toml = at all")
    with pytest.raises(ConfigError):
        load_settings(cfg, env={})
    with pytest.raises(ConfigError):
        load_settings(tmp_path / "missing.toml", env={})


def test_feature_tables_are_handed_to_features(tmp_path: Path) -> None:
    cfg = tmp_path / "k.toml"
    cfg.write_text("[registrar]\nmin_expires = 120\nalgorithms = ['SHA-256', 'MD5']\n")
    s = load_settings(cfg, env={})
    assert s.extra == {"registrar": {"min_expires": 120, "algorithms": ["SHA-256", "MD5"]}}
    from kilopbx.apps.registrar.config import RegistrarConfig

    registrar = RegistrarConfig.load(s.extra, env={})
    assert registrar.min_expires == 120
    assert registrar.algorithms == ("SHA-256", "MD5")
    cfg.write_text("registrar = 5\n")
    with pytest.raises(ConfigError):
        load_settings(cfg, env={})


def test_sip_transaction_limits(tmp_path: Path) -> None:
    s = load_settings(None, env={"KILOPBX_SIP_MAX_TRANSACTIONS_PER_SOURCE": "0"})
    assert (s.sip_max_transactions, s.sip_max_transactions_per_source) == (100_000, 0)
    cfg = tmp_path / "k.toml"
    cfg.write_text("[sip]\nmax_transactions = 50000\nmax_transactions_per_source = 2000\n")
    s = load_settings(cfg, env={})
    assert (s.sip_max_transactions, s.sip_max_transactions_per_source) == (50_000, 2_000)
    for bad in ({"KILOPBX_SIP_MAX_TRANSACTIONS": "0"}, {"KILOPBX_SIP_MAX_TRANSACTIONS": "x"}):
        with pytest.raises(ConfigError):
            load_settings(None, env=bad)


def test_event_and_object_limits(tmp_path: Path) -> None:
    cfg = tmp_path / "k.toml"
    cfg.write_text("[events]\nretry_max = 5\n[limits]\ntrunks = 300\ninbound_routes = 20\n")
    s = load_settings(cfg, env={"KILOPBX_MAX_OUTBOUND_ROUTES": "7"})
    assert (s.event_retry_max, s.max_trunks, s.max_inbound_routes) == (5.0, 300, 20)
    assert (s.max_outbound_routes, s.max_time_conditions) == (7, 1000)
    for bad in ({"KILOPBX_MAX_TRUNKS": "0"}, {"KILOPBX_EVENT_RETRY_MAX": "-1"}):
        with pytest.raises(ConfigError):
            load_settings(None, env=bad)
