"""The coroutines of ``request_dispatch``: a handler that waits is awaited here.

Apart so that ``request_dispatch``, on the path of every new request, has none and is
compiled (``scripts/compile.py`` leaves modules with coroutines interpreted).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from kilopbx.sip.transaction_user import ServerTransactionHandle

if TYPE_CHECKING:
    from kilopbx.sip.request_dispatch import RequestDispatch, RequestHandler


async def serve(
    dispatch: RequestDispatch, handle: ServerTransactionHandle, handler: RequestHandler
) -> None:
    """See ``RequestDispatch.serve``."""
    try:
        result = handler(handle)
    except Exception:
        dispatch.handler_failed(handle)
        return
    await finish(dispatch, handle, result)


async def finish(
    dispatch: RequestDispatch, handle: ServerTransactionHandle, result: Awaitable[None] | None
) -> None:
    """Await what a handler returned; a failure answers 500, silence as ``unanswered``."""
    try:
        if result is not None:
            await result
    except asyncio.CancelledError:
        raise
    except Exception:
        dispatch.handler_failed(handle)
        return
    dispatch.unanswered(handle)
