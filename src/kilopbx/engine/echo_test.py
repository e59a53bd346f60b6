"""The echo test (``*43``): the PBX answers and the media worker sends everything the
phone says back to it (``MediaPool.loopback``), so a user hears their own voice with
the round-trip delay of the network. It lasts until the phone hangs up, at most
``ECHO_SECONDS``; then the PBX sends BYE. The endpoint is deleted whatever happens."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import TYPE_CHECKING

from kilopbx.engine.anchor import Anchor, remote_address
from kilopbx.engine.directory import SipAccount
from kilopbx.engine.feature_codes import ShortCallLine, offer_or_488
from kilopbx.media.pool import MediaError
from kilopbx.sip.dialog import DialogError
from kilopbx.sip.transaction_user import ServerTransactionHandle

if TYPE_CHECKING:
    from kilopbx.engine.calls import CallEngine

log = logging.getLogger(__name__)

ECHO_TEST = "*43"
ECHO_SECONDS = 120.0


async def echo_test(
    engine: CallEngine, transaction: ServerTransactionHandle, account: SipAccount
) -> None:
    """``*43``: answer, and echo the phone's audio until it hangs up."""
    offer = offer_or_488(transaction)
    if offer is None:
        return
    line = ShortCallLine()
    invite = engine.sip.server_invite(transaction, line)
    try:
        endpoint = await engine.first_endpoint(offer.worker_codecs(), remote_address(offer))
    except (MediaError, OSError, RuntimeError, TimeoutError):
        invite.reject(503)
        return
    try:
        address = engine.media_address(transaction.source.host)
        session = str(secrets.randbelow(2**31))
        anchor = Anchor(endpoint, address, offer.codecs[:1], offer.dtmf, session)
        with contextlib.suppress(DialogError, MediaError):
            await engine.media.loopback(endpoint)
            dialog = invite.answer(anchor.sdp())
            if await invite.acknowledged() is None:
                return  # no ACK: the stack has sent the BYE
            log.info("echo test for %s", account.number)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(line.hung_up.wait(), ECHO_SECONDS)
            if not line.hung_up.is_set() and not dialog.ended:
                await dialog.request("BYE")
    finally:
        with contextlib.suppress(MediaError):
            await engine.media.delete_endpoint(endpoint)
