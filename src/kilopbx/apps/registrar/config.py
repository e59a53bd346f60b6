"""Registrar settings: defaults, overridden by ``settings.extra["registrar"]`` (TOML
``[registrar]`` table) and then by ``KILOPBX_SIP_*`` / ``KILOPBX_REGISTRAR_*`` variables."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from kilopbx.apps.registrar.core import ExpiryLimits
from kilopbx.config import ConfigError

# environment variable -> field
_ENV = {
    "KILOPBX_SIP_REALM": "realm",
    "KILOPBX_SIP_DIGEST_ALGORITHMS": "algorithms",
    "KILOPBX_SIP_MD5_ONLY_AGENTS": "md5_only_agents",
    "KILOPBX_SIP_NONCE_LIFETIME": "nonce_lifetime",
    "KILOPBX_SIP_BAN_FAILURES": "ban_failures",
    "KILOPBX_SIP_BAN_WINDOW": "ban_window",
    "KILOPBX_SIP_BAN_SECONDS": "ban_seconds",
    "KILOPBX_SIP_FLOOD_LIMIT": "flood_limit",
    "KILOPBX_SIP_SOURCE_CPU_SHARE": "source_cpu_share",
    "KILOPBX_REGISTRAR_MIN_EXPIRES": "min_expires",
    "KILOPBX_REGISTRAR_MAX_EXPIRES": "max_expires",
    "KILOPBX_REGISTRAR_DEFAULT_EXPIRES": "default_expires",
    "KILOPBX_REGISTRAR_QUALIFY_INTERVAL": "qualify_interval",
    "KILOPBX_REGISTRAR_FLUSH_INTERVAL": "flush_interval",
    "KILOPBX_REGISTRAR_COMMIT_WAIT": "commit_wait",
}


# ASCII only: int() and float() also take '٨', '1_000', 'inf', 'nan' and '1e9'
_WHOLE = re.compile(r"[0-9]{1,15}")
_DECIMAL = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,9})?")


def _whole(value: object, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    text = value.strip() if isinstance(value, str) else ""
    if not _WHOLE.fullmatch(text):
        raise ConfigError(f"{where} must be a whole number (digits 0-9), got {value!r}")
    return int(text)


def _decimal(value: object, where: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1e9:
        return float(value)
    text = value.strip() if isinstance(value, str) else ""
    if not _DECIMAL.fullmatch(text):
        raise ConfigError(f"{where} must be a number like 0.5 (digits 0-9), got {value!r}")
    return float(text)


@dataclass(frozen=True)
class RegistrarConfig:
    realm: str = "KiloPBX"
    # challenge order (RFC 8760 §2.4: preferred first). MD5 leads because UAs that read
    # only the first challenge (sipp 3.6.1, baresip 1.0.0 here) abort on SHA-256;
    # see docs/decisions-registrar.md
    algorithms: tuple[str, ...] = ("MD5", "SHA-256")
    # User-Agent fragments of phones whose digest code gives up when any challenge
    # names an algorithm it does not know (libre before 2.x: baresip 1.0.0 fails with
    # ENOSYS); they are challenged with MD5 alone
    md5_only_agents: tuple[str, ...] = ("baresip v0.", "baresip v1.")
    nonce_lifetime: float = 300.0
    ban_failures: int = 10  # failed authentications from one IP within ban_window ...
    ban_window: float = 60.0
    ban_seconds: float = 600.0  # ... ban it this long (0 failures = never ban)
    # UDP datagrams a second from one IP; beyond, dropped (not banned); 0 = no limits.
    # Dropping costs the owner of a forged address little, so the limit can be low.
    flood_limit: int = 3_000
    # share of the loop one UDP source may spend in parsing; beyond, dropped; 0 = off
    source_cpu_share: float = 0.25
    min_expires: int = 60
    max_expires: int = 3600
    default_expires: int = 3600
    qualify_interval: float = 60.0  # OPTIONS keep-alive per contact; 0 turns it off
    flush_interval: float = 0.05  # changes are batched this long before a commit
    # a REGISTER's 200 waits for the commit of its change at most this long, then 503
    commit_wait: float = 4.0
    # a refresh is answered before its commit if the stored expiry is at most this short
    # (what a kill -9 can take off an acknowledged refresh); refreshes are written once
    # they run half of it ahead of the stored expiry
    refresh_lag: float = 10.0

    @property
    def limits(self) -> ExpiryLimits:
        return ExpiryLimits(self.min_expires, self.max_expires, self.default_expires)

    @classmethod
    def load(
        cls, extra: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
    ) -> RegistrarConfig:
        env = os.environ if env is None else env
        values: dict[str, Any] = dict((extra or {}).get("registrar", {}))
        origin = {name: f"[registrar] {name}" for name in values}
        for var, name in _ENV.items():
            if env.get(var):
                values[name] = env[var]
                origin[name] = var
        types = {f.name: f.type for f in fields(cls)}
        config = cls()
        changes: dict[str, Any] = {}
        for name, value in values.items():
            kind = types.get(name)
            if kind is None:
                continue
            if name in ("algorithms", "md5_only_agents"):
                items = value.split(",") if isinstance(value, str) else value
                cleaned = tuple(str(v).strip() for v in items if str(v).strip())
                changes[name] = (
                    tuple(v.upper() for v in cleaned) if name == "algorithms" else cleaned
                )
            elif kind == "int":
                changes[name] = _whole(value, origin[name])
            elif kind == "float":
                changes[name] = _decimal(value, origin[name])
            else:
                changes[name] = str(value)
        return replace(config, **changes)
