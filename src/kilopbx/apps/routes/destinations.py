"""Checks that an inbound route's destination exists, against the objects other
features own (through the number plan) and our own outbound routes."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kilopbx.apps.routes import validation
from kilopbx.apps.routes.models import OutboundRoute
from kilopbx.apps.trunks.other_objects import OtherObjects
from kilopbx.core.errors import DomainError

# destination types whose value is the number of an extension
EXTENSION_VALUED = frozenset({"extension", "voicemail", "faxtoemail"})
# destination types whose value is the number of another feature's object
NUMBER_VALUED = frozenset({"ivr", "queue", "ringgroup", "conference"})
# KiloPBX has no DISA entries nor callback rules (yet): such a destination cannot exist
UNSUPPORTED = frozenset({"disa", "callback"})


async def checked_destination(
    db: AsyncSession, other: OtherObjects, dest_type: str, dest: str | None
) -> str:
    """The destination value to store; a DomainError (10004/10069 on the wire) when missing
    or unknown."""
    if dest_type == "hangup":
        return ""
    value = (dest or "").strip()
    if value == "":
        raise DomainError(validation.DEST_INVALID, f"{dest_type} needs a dest")
    if len(value) > 63:
        raise DomainError(validation.DEST_INVALID, "dest is at most 63 characters")
    if dest_type == "extrange":
        first, last = validation.extension_range(value)
        return f"{first}-{last}"
    if dest_type in EXTENSION_VALUED:
        if not await other.extension_exists(db, value):
            raise DomainError(validation.DEST_INVALID, f"no extension {value}")
        return value
    if dest_type in NUMBER_VALUED:
        if not await other.numbered_object_exists(db, dest_type, value):
            raise DomainError(validation.DEST_INVALID, f"no {dest_type} with number {value}")
        return value
    if dest_type == "outroute":
        found = await db.execute(select(OutboundRoute.id).where(OutboundRoute.name == value))
        if found.first() is None:
            raise DomainError(validation.DEST_INVALID, f"no outbound route {value}")
        return value
    raise DomainError(validation.DEST_INVALID, f"KiloPBX has no {dest_type} destinations")
