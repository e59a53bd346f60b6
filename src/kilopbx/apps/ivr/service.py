"""IVRs: the only code that changes them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kilopbx.apps.ivr.models import DEFAULT_PROMPT, Ivr, IvrKey
from kilopbx.apps.ivr.wire import IVR_INVALID, IVR_MISSING, KEYS, NUMBER_IN_USE, IvrChanges
from kilopbx.apps.ring_groups import destinations
from kilopbx.apps.ring_groups.config_store import change_destination, config_change
from kilopbx.apps.ring_groups.destinations import check_destination
from kilopbx.apps.ring_groups.numbered import NumberedObjects, NumberedService
from kilopbx.core.registry import Key

KIND = "ivr"
# an IVR another object still sends calls to is not deleted (10018)
IVRS = NumberedObjects(
    Ivr, "IVR", IVR_MISSING, destination_kind=destinations.IVR, in_use_reason=IVR_INVALID
)


@dataclass
class StoredIvr:
    ivr: Ivr
    keys: list[IvrKey]


class IvrService(NumberedService):
    objects = IVRS

    async def query(self, numbers: list[str] | None) -> list[StoredIvr]:
        async with self._sessions() as db:
            ivrs = await IVRS.rows(db, numbers)
            return [StoredIvr(ivr, await _keys(db, ivr.number)) for ivr in ivrs]

    async def add(self, number: str, changes: IvrChanges) -> None:
        async with config_change(self._sessions) as db:
            ivr = await IVRS.insert(
                db,
                Ivr(
                    number=number,
                    name=changes.name or number,
                    prompt=DEFAULT_PROMPT,
                    prompt_repeat=2,
                    response_timeout=5,
                    digit_timeout=3,
                    dial_extensions=True,
                    dial_outbound_routes=False,
                    dial_check_voicemail=False,
                    selected_routes="",
                    timeout_dest_type=destinations.HANGUP,
                    timeout_dest="",
                    invalid_dest_type=destinations.HANGUP,
                    invalid_dest="",
                ),
                NUMBER_IN_USE,
                self._numbers,
            )
            await _apply(db, ivr, changes)

    async def update(self, number: str, changes: IvrChanges) -> None:
        async with config_change(self._sessions) as db:
            await _apply(db, await IVRS.get(db, number), changes)


async def _apply(db: AsyncSession, ivr: Ivr, changes: IvrChanges) -> None:
    for attribute in (
        "name",
        "prompt",
        "prompt_repeat",
        "response_timeout",
        "digit_timeout",
        "dial_extensions",
        "dial_outbound_routes",
        "dial_check_voicemail",
    ):
        value = getattr(changes, attribute)
        if value is not None:
            setattr(ivr, attribute, value)
    if changes.selected_routes is not None:
        ivr.selected_routes = ",".join(changes.selected_routes)
    timeout = ("timeout_dest_type", "timeout_dest")
    await change_destination(
        db, ivr, timeout, changes.timeout_type, changes.timeout_value, IVR_INVALID, "timeoutdest"
    )
    invalid_input = ("invalid_dest_type", "invalid_dest")
    await change_destination(
        db,
        ivr,
        invalid_input,
        changes.invalid_type,
        changes.invalid_value,
        IVR_INVALID,
        "invaliddest",
    )
    for change in changes.keys:
        existing = await db.get(IvrKey, (ivr.number, change.key))
        if change.dest_type is None:
            if existing is not None:
                await db.delete(existing)
            continue
        target = await check_destination(
            db, change.dest_type, change.dest_value, IVR_INVALID, f"key {change.key}"
        )
        if existing is None:
            db.add(
                IvrKey(
                    ivr_number=ivr.number, key=change.key, dest_type=target.kind, dest=target.value
                )
            )
        else:
            existing.dest_type, existing.dest = target.kind, target.value


async def _keys(db: AsyncSession, number: str) -> list[IvrKey]:
    keys = list(await db.scalars(select(IvrKey).where(IvrKey.ivr_number == number)))
    return sorted(keys, key=lambda k: KEYS.index(k.key))


IVR_SERVICE: Key[IvrService] = Key("IVRs")
