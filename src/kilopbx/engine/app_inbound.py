"""Inbound-route destinations served by call applications (``CALL_APPLICATIONS``): an
IVR, a voicemail box. A feature that runs such an application contributes
``ApplicationDestination(kind)`` to ``INBOUND_DESTINATIONS``; a provider's call routed
to a destination of that kind is then answered by the application that owns the
destination number, the caller shown as the trunk's ``inbound`` member (the outside
number, the DID, the trunk). When no application owns the number (an IVR deleted
after the route was made) the provider gets 480 with a ``Reason``, as for a kind
nothing serves.
"""

from __future__ import annotations

from kilopbx.engine.app_call import run_application
from kilopbx.engine.trunk_calls import InboundCall, outside_party, unavailable


class ApplicationDestination:
    """``INBOUND_DESTINATIONS`` entry for the applications of one ``kind``."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def take(self, call: InboundCall) -> bool:
        call.engine.spawn(self.run(call))
        return True

    async def run(self, call: InboundCall) -> None:
        engine = call.engine
        channel = call.channel_id or engine.new_channel_id(f"trunk-{call.trunk.name}-endpoint")
        caller = outside_party(call.caller, call.caller_name)

        taken = await run_application(
            engine,
            call.transaction,
            caller,
            call.dest,
            call.offer,
            kind=self.kind,
            caller_channel=channel,
            trunk=call.trunk.name,
            did=call.did,
            call_id=call.call_id,
            timer=call.timer,
        )
        if not taken and not call.transaction.final_sent:
            unavailable(call)
