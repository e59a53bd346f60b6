"""Trunk snapshots for the runtime's unit tests."""

from __future__ import annotations

from dataclasses import replace

from kilopbx.apps.trunks.line_config import TrunkConfig
from kilopbx.engine.trunking import TrunkKind, TrunkProfile


def config(
    trunk_id: int,
    name: str,
    kind: TrunkKind = "peer",
    *,
    host: str = "192.0.2.10",
    port: int = 5060,
    **changes: object,
) -> TrunkConfig:
    profile = TrunkProfile(
        name=name,
        kind=kind,
        domain=host,
        username="u1",
        auth_name="",
        password="secret-pw",
        from_user="",
        caller_id_number="",
        caller_id_name="",
        codecs=("ulaw",),
        dtmf_mode="rfc4733",
        max_channels=0,
    )
    base = TrunkConfig(
        id=trunk_id,
        name=name,
        kind=kind,
        enabled=True,
        host=host,
        port=port,
        domain=host,
        username="u1",
        auth_name="",
        password="secret-pw",
        from_user="",
        transport="udp",
        outbound_proxy="",
        qualify_seconds=60,
        register_expiry=3600,
        profile=profile,
    )
    return replace(base, **changes)  # type: ignore[arg-type]
