"""Trunk runtime settings: defaults, overridden by the `[trunks]` TOML table and then
by `KILOPBX_TRUNKS_*` variables.

- `nameserver`: the DNS server for provider host names ("ip" or "ip:port"); "" = the
  system's.
- `retry_min` / `retry_max`: seconds between registration attempts after a failure
  (doubling from min up to max).
- `unregister_timeout`: how long stopping waits for un-REGISTERs.
- `request_timeout`: how long a REGISTER or OPTIONS to one target may go unanswered
  before the next target is tried (the transaction's own timeout is 32 s).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

_ENV = {
    "KILOPBX_TRUNKS_NAMESERVER": "nameserver",
    "KILOPBX_TRUNKS_RETRY_MIN": "retry_min",
    "KILOPBX_TRUNKS_RETRY_MAX": "retry_max",
    "KILOPBX_TRUNKS_UNREGISTER_TIMEOUT": "unregister_timeout",
    "KILOPBX_TRUNKS_REQUEST_TIMEOUT": "request_timeout",
}


@dataclass(frozen=True)
class TrunkRuntimeConfig:
    nameserver: str = ""
    retry_min: float = 5.0
    retry_max: float = 300.0
    unregister_timeout: float = 2.0
    request_timeout: float = 8.0

    @classmethod
    def load(
        cls, table: Mapping[str, Any] | None, env: Mapping[str, str] | None = None
    ) -> TrunkRuntimeConfig:
        env = os.environ if env is None else env
        values: dict[str, Any] = dict(table or {})
        for var, name in _ENV.items():
            if var in env:
                values[name] = env[var]
        known = {f.name: f for f in fields(cls)}
        changes: dict[str, Any] = {}
        for name, value in values.items():
            if name not in known:
                raise ValueError(f"unknown [trunks] setting {name!r}")
            if name == "nameserver":
                changes[name] = str(value)
            else:
                text = str(value).strip()
                if not text.isascii():
                    raise ValueError(f"[trunks] {name} must be a number of seconds")
                number = float(text)
                if not 0 < number <= 86400:
                    raise ValueError(f"[trunks] {name} must be between 0 and 86400 seconds")
                changes[name] = number
        config = replace(cls(), **changes)
        if config.retry_max < config.retry_min:
            raise ValueError("[trunks] retry_max must not be below retry_min")
        return config
