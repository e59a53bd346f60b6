"""RFC 3262 on the UAC side: which reliable provisional responses get a PRACK.

Sans IO: ``PrackClient.rack_for(response, invite_cseq)`` says whether a 1xx to our
INVITE is reliable (``Require: 100rel`` and an ``RSeq``) and new, and gives the
``RAck`` value of the PRACK to send in its early dialog. Retransmissions of a
response already acknowledged, and responses out of order, get nothing (§4: the UAC
acknowledges each reliable response once, in RSeq order; an RSeq that is not the
next one is dropped, and the UAS will retransmit it). One ``PrackClient`` per early
dialog (per To tag), because each UAS fork numbers its own responses.
"""

from __future__ import annotations

from kilopbx.sip.headers import split_list_value
from kilopbx.sip.message import SipResponse

OPTION_TAG = "100rel"
MAX_RSEQ = 2**31 - 1  # §7.1: 1 to 2**31 - 1


def is_reliable(response: SipResponse) -> bool:
    """A provisional response (not 100) that asks for PRACK."""
    if not 100 < response.status < 200:
        return False
    tags = (
        t.strip().lower() for v in response.headers.get_all("Require") for t in split_list_value(v)
    )
    return OPTION_TAG in tags


def rseq_of(response: SipResponse) -> int | None:
    value = (response.headers.get("RSeq") or "").strip()
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        return None
    number = int(value)
    return number if 1 <= number <= MAX_RSEQ else None


class PrackClient:
    """The reliable provisional responses of one early dialog seen so far."""

    def __init__(self) -> None:
        self.last_rseq: int | None = None

    def rack_for(self, response: SipResponse, invite_cseq: int) -> str | None:
        """The RAck of the PRACK ``response`` needs, or None (not reliable, a
        retransmission, out of order, or a malformed RSeq)."""
        if not is_reliable(response):
            return None
        rseq = rseq_of(response)
        if rseq is None:
            return None
        if self.last_rseq is not None and rseq != self.last_rseq + 1:
            return None  # a retransmission (<=) or a gap (>): §4 ignores it
        self.last_rseq = rseq
        return f"{rseq} {invite_cseq} INVITE"
