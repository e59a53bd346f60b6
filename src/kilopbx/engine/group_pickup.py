"""Group pickup: a phone dialling ``*8`` answers a call ringing another extension of
its pickup group (``CallSettings.pickup_group``), the call that has rung longest
first. It joins the call as its answering member, as directed pickup (``**<ext>``,
``call_park.pickup``) does: the phones that rang get a CANCEL and the call keeps its
id. A phone in no group, or nothing ringing in its group, gets 404."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kilopbx.engine.call_park import join_as_answer, unanswered_calls
from kilopbx.engine.directory import SipAccount
from kilopbx.engine.feature_codes import offer_or_488
from kilopbx.sip.transaction_user import ServerTransactionHandle

if TYPE_CHECKING:
    from kilopbx.engine.call_runtime import CallRuntime
    from kilopbx.engine.calls import CallEngine

GROUP_PICKUP = "*8"


def ringing_in_group(engine: CallEngine, picker: SipAccount) -> CallRuntime | None:
    """The oldest unanswered call ringing an extension of ``picker``'s group (not
    ``picker`` itself, and not a call ``picker`` made)."""
    group = picker.calls.pickup_group
    if not group:
        return None
    for runtime in unanswered_calls(engine):  # in the order the calls began
        if runtime.caller_account.number == picker.number:
            continue
        for channel in runtime.call.pending_branches():
            if channel.number != picker.number and _group_of(engine, channel.number) == group:
                return runtime
    return None


def _group_of(engine: CallEngine, number: str) -> str:
    account = engine.directory.by_number(number)
    return account.calls.pickup_group if account is not None else ""


async def group_pickup(
    engine: CallEngine, transaction: ServerTransactionHandle, account: SipAccount
) -> None:
    """A phone dialled ``*8``: it answers the call ringing in its group."""
    offer = offer_or_488(transaction)
    if offer is None:
        return
    runtime = ringing_in_group(engine, account)
    if runtime is None:
        transaction.respond(404)  # nothing rings in the group
        return
    join_as_answer(engine, runtime, transaction, account, offer)
