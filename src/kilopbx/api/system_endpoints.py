"""deviceinfo/query (spec 10-auth-system.md)."""

from __future__ import annotations

import time
from typing import Any

from kilopbx import __version__
from kilopbx.api.router import Request, endpoint
from kilopbx.engine.directory import MAX_EXTENSIONS
from kilopbx.engine.routing import DIRECTORY

HARDWARE_VERSION = "V1.00 0000-0000"


def format_uptime(seconds: float) -> str:
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}days {clock}" if days else clock


def format_system_time(epoch: float) -> str:
    local = time.localtime(epoch)
    offset = local.tm_gmtoff or 0
    sign = "+" if offset >= 0 else "-"
    hours, minutes = divmod(abs(offset) // 60, 60)
    zone = f"UTC{sign}{hours}" + (f":{minutes:02d}" if minutes else "")
    return time.strftime("%Y-%m-%d %H:%M:%S", local) + " " + zone


@endpoint("deviceinfo/query")
async def deviceinfo_query(req: Request) -> dict[str, Any]:
    pbx = req.pbx
    now = pbx.clock.now()
    directory = pbx.registry.find(DIRECTORY)  # every extension, kept current on commit
    created = 0 if directory is None else len(directory)
    return {
        "deviceinfo": {
            "devicename": pbx.settings.device_name,
            "sn": pbx.serial_number,
            "hardwarever": HARDWARE_VERSION,
            "firmwarever": __version__,
            "systemtime": format_system_time(now),
            "uptime": format_uptime(pbx.clock.monotonic() - pbx.started_monotonic),
            "extensionstatus": f"{created}/{MAX_EXTENSIONS}",
        }
    }
