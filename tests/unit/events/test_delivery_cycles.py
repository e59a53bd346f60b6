"""A failed connection to an event receiver leaves no reference cycle: the error's
traceback (through ``asyncio.wait_for``, whose frame holds the connecting task, which
holds the error) is dropped, as only its text is reported. A receiver that is down is
retried every few seconds for as long as its session lives."""

from __future__ import annotations

import gc
import socket

import pytest

from kilopbx.events.http_post import DeliveryError, post_event


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens there once it is closed


async def test_a_refused_connection_leaves_nothing_for_the_cyclic_collector() -> None:
    url = f"http://127.0.0.1:{closed_port()}/events"
    with pytest.raises(DeliveryError):  # the first attempt warms up what asyncio caches
        await post_event(url, b"{}", connect_timeout=2.0)
    gc.collect()
    gc.disable()
    try:
        with pytest.raises(DeliveryError, match=r"connect to 127\.0\.0\.1"):
            await post_event(url, b"{}", connect_timeout=2.0)
        assert gc.collect() == 0
    finally:
        gc.enable()
