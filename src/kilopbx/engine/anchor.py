"""Our side of one leg's media: the worker endpoint and the SDP we show the phone, and
the small conversions between a phone's SDP and the worker's control fields."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kilopbx.engine.sdp_negotiation import Codec, LegMedia, build_sdp
from kilopbx.media.pool import EndpointRef


@dataclass(slots=True)
class Anchor:
    """Our side of one leg's media: the worker endpoint and the SDP we show the phone."""

    endpoint: EndpointRef
    address: str
    codecs: tuple[Codec, ...]
    dtmf: Codec | None
    session_id: str = ""
    version: int = 0
    direction: str = "sendrecv"
    info_refused: bool = False  # the phone answered a DTMF INFO 405/415/501: tones instead
    key_tones: asyncio.Lock | None = None  # keys played to it as tones, one at a time

    def sdp(self) -> bytes:
        return build_sdp(
            address=self.address,
            port=self.endpoint.port,
            codecs=self.codecs,
            dtmf=self.dtmf,
            session_id=self.session_id,
            version=self.version,
            direction=self.direction,
        )


def specs(codecs: Sequence[tuple[int, str]]) -> list[dict[str, Any]]:
    return [{"pt": pt, "name": name} for pt, name in codecs]


def remote_address(media: LegMedia) -> tuple[str, int] | None:
    if media.port == 0 or media.host == "0.0.0.0":
        return None
    return media.host, media.port


def remote_fields(media: LegMedia) -> dict[str, Any] | None:
    pair = remote_address(media)
    return None if pair is None else {"host": pair[0], "port": pair[1]}
