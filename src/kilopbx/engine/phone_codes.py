"""The codes a phone dials that are no call to a number: which one a dialled number
is, and the coroutine that serves it (``CallEngine.on_invite`` asks first).

``*72``... settings codes (``feature_codes``), ``*65`` the phone's own number,
``*71<slot>`` (or the slot's number alone) a parked call, ``**<extension>`` directed
pickup (``call_park``), ``*8`` group pickup (``group_pickup``),
``*43`` the echo test (``echo_test``).
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from kilopbx.engine.call_park import pickup, retrieve, retrieve_slot
from kilopbx.engine.directory import SipAccount
from kilopbx.engine.echo_test import ECHO_TEST, echo_test
from kilopbx.engine.feature_codes import (
    SPEAK_NUMBER,
    run_setting_code,
    setting_code,
    speak_number,
)
from kilopbx.engine.group_pickup import GROUP_PICKUP, group_pickup
from kilopbx.sip.transaction_user import ServerTransactionHandle

if TYPE_CHECKING:
    from kilopbx.engine.calls import CallEngine

PICKUP = "**"
MAX_NUMBER = 32


def phone_code(
    engine: CallEngine,
    transaction: ServerTransactionHandle,
    account: SipAccount,
    dialled: str,
) -> Coroutine[Any, Any, None] | None:
    """What serves ``dialled`` when it is a feature code; None when it is none. A
    parking slot's number (``7001``) dialled alone retrieves the call parked there;
    an extension with that number, or an empty slot, is an ordinary call."""
    if not dialled.startswith("*"):
        lot = engine.parking if engine.directory.by_number(dialled) is None else None
        slot = retrieve_slot(dialled, lot) if lot is not None else None
        return None if slot is None else retrieve(engine, transaction, account, slot)
    code = setting_code(dialled)
    settings = engine.phone_settings() if code is not None else None
    if code is not None and settings is not None:
        return run_setting_code(engine, transaction, account, code, settings)
    if dialled == SPEAK_NUMBER:
        return speak_number(engine, transaction, account)
    if dialled == GROUP_PICKUP:
        return group_pickup(engine, transaction, account)
    if dialled == ECHO_TEST:
        return echo_test(engine, transaction, account)
    if (slot := retrieve_slot(dialled)) is not None:
        return retrieve(engine, transaction, account, slot)
    target = dialled[len(PICKUP) :]
    if dialled.startswith(PICKUP) and target.isascii() and target.isdigit():
        return pickup(engine, transaction, account, target[:MAX_NUMBER])
    return None
