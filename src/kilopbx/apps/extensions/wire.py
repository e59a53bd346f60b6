"""Extension rows in the wire shape of spec 21 (strings everywhere, exact key names)."""

from __future__ import annotations

from typing import Any

from kilopbx.apps.extensions.models import Extension
from kilopbx.apps.extensions.validation import FORWARD_WIRE, MONITOR_MODE_WIRE


def switch(value: bool) -> str:
    return "on" if value else "off"


def max_duration_wire(seconds: int | None) -> str:
    if seconds is None:
        return "Follow System"
    return "Unlimited" if seconds == 0 else str(seconds)


def forwarding_wire(ext: Extension, condition: str, prefix: str) -> dict[str, str]:
    return {
        f"{prefix}transferto": FORWARD_WIRE[getattr(ext, f"{condition}_forward_to")],
        f"{prefix}transferext": getattr(ext, f"{condition}_forward_extension"),
        f"{prefix}transferprefix": getattr(ext, f"{condition}_forward_prefix"),
        f"{prefix}transfernum": getattr(ext, f"{condition}_forward_number"),
    }


def settings_wire(ext: Extension, status: str) -> dict[str, Any]:
    """The `ExtensionInfo` object of extension/query, keys in the spec's order."""
    info: dict[str, Any] = {
        "number": ext.number,
        "username": ext.display_name,
        "status": status,
        "type": ext.kind,
        "callerid": ext.caller_id,
        "registername": ext.auth_name,
        "registerpassword": ext.sip_password,
        "maxregistrations": str(ext.max_registrations),
        "loginpassword": ext.login_password_md5,
        "email": ext.email,
        "mobile": ext.mobile,
        "language": ext.language,
        "hasvoicemail": switch(ext.voicemail_enabled),
        "vmsecret": ext.voicemail_pin,
        "enablevmtoemail": ext.voicemail_to_email,
        "alwaysforward": switch(ext.always_forward),
        **forwarding_wire(ext, "always", "a"),
        "noanswerforward": switch(ext.no_answer_forward),
        **forwarding_wire(ext, "no_answer", "n"),
        "busyforward": switch(ext.busy_forward),
        **forwarding_wire(ext, "busy", "b"),
        "enablemobile": switch(ext.mobility_enabled),
        "ringsimultaneous": switch(ext.ring_mobile_simultaneously),
        "mobileprefix": ext.mobile_prefix,
        "allowbeingmonitored": switch(ext.allow_being_monitored),
        "monitormode": MONITOR_MODE_WIRE[ext.monitor_mode],
        "ringtimeout": str(ext.ring_timeout),
        "maxduration": max_duration_wire(ext.max_call_seconds),
        "dnd": switch(ext.do_not_disturb),
        "callrestriction": switch(ext.call_restriction),
        "agentid": ext.agent_id,
    }
    return info


def summary_wire(ext: Extension, status: str) -> dict[str, str]:
    """One entry of extension/list."""
    return {
        "number": ext.number,
        "status": status,
        "type": ext.kind,
        "username": ext.display_name,
        "agentid": ext.agent_id,
    }


def number_order(number: str) -> tuple[int, str]:
    """Ascending numeric order; "007" and "7" stay apart but next to each other."""
    return (int(number), number) if number.isascii() and number.isdigit() else (1 << 62, number)
