"""The only place that changes trunks. Publishes ConfigChange after each commit."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilopbx.apps.trunks import options, validation
from kilopbx.apps.trunks.config_lock import config_transaction, routing_config_lock
from kilopbx.apps.trunks.models import Trunk, TrunkDod
from kilopbx.apps.trunks.other_objects import OtherObjects
from kilopbx.core.errors import MISSING_PARAMETER, DomainError
from kilopbx.core.registry import Key
from kilopbx.events.bus import EventBus
from kilopbx.events.types import ConfigChange
from kilopbx.store.database import write_transaction

log = logging.getLogger(__name__)

# which settings each trunk type has (30-trunks.md, "The three SIP trunk types")
FIELDS_OF_TYPE: dict[str, frozenset[str]] = {
    "register": frozenset(
        {"host", "port", "domain", "username", "auth_name", "password", "from_user"}
    ),
    "peer": frozenset({"host", "port", "domain"}),
    "account": frozenset({"username", "auth_name", "password"}),
}
REQUIRED_OF_TYPE: dict[str, tuple[str, ...]] = {
    "register": ("host", "domain", "username", "auth_name", "password"),
    "peer": ("host", "domain"),
    "account": ("username", "auth_name", "password"),
}
_PARSERS = {
    "host": validation.host,
    "domain": lambda text: validation.host(text, validation.DOMAIN_INVALID),
    "username": validation.username,
    "auth_name": validation.auth_name,
    "from_user": validation.from_user,
    "password": validation.password,
}
# wire order of the per-field checks, so one request always answers the same errno
_CHECK_ORDER = (
    "name",
    "host",
    "port",
    "domain",
    "username",
    "auth_name",
    "from_user",
    "password",
)


@dataclass
class TrunkInput:
    """Wire values of an add/update request, keyed by our attribute names; a key that is
    absent was not sent."""

    kind: str
    values: dict[str, str] = field(default_factory=dict)


StatusProvider = Callable[[Trunk], str]


class TrunkService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        other_objects: OtherObjects,
        *,
        max_trunks: int,
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self._other = other_objects
        self.max_trunks = max_trunks
        # live registration / probe state; the SIP trunk runtime replaces it
        self.status_provider: StatusProvider = lambda _trunk: "Unknown"

    # -- reading ---------------------------------------------------------------------------

    async def all_trunks(self) -> list[Trunk]:
        async with self._sessions() as db:
            return list((await db.execute(select(Trunk).order_by(Trunk.id))).scalars())

    async def find(self, ids: list[int] | None) -> list[Trunk]:
        """Trunks by id (None: all), ascending id; 10062 when a list names none."""
        async with self._sessions() as db:
            query = select(Trunk).order_by(Trunk.id)
            if ids is not None:
                query = query.where(Trunk.id.in_(ids))
            trunks = list((await db.execute(query)).scalars())
        if ids is not None and not trunks:
            raise DomainError(validation.TRUNK_UNKNOWN)
        return trunks

    async def group_names(self, trunks: list[Trunk]) -> dict[int, str]:
        """Names of the extension groups the trunks' DOD bindings refer to."""
        ids = {row.group_id for t in trunks for row in t.dod_bindings if row.group_id is not None}
        if not ids:
            return {}
        async with self._sessions() as db:
            return await self._other.extension_group_names(db, ids)

    def status(self, trunk: Trunk) -> str:
        return "Disable" if not trunk.enabled else self.status_provider(trunk)

    # -- changing ---------------------------------------------------------------------------

    async def add(self, request: TrunkInput) -> Trunk:
        kind = validation.trunk_type(request.kind)
        values = request.values
        for name in ("name", *REQUIRED_OF_TYPE[kind]):
            if values.get(name, "").strip() == "":
                raise DomainError(MISSING_PARAMETER, f"{name} is required for {kind} trunks")
        trunk = Trunk(kind=kind, port=validation.DEFAULT_PORT)
        settings = self._checked_settings(kind, values)
        extension_dods, group_dods = _checked_dods(values)
        async with config_transaction(self._sessions) as db:
            count = await db.scalar(select(func.count()).select_from(Trunk))
            if (count or 0) >= self.max_trunks:
                raise DomainError(validation.TOO_MANY_TRUNKS, f"at most {self.max_trunks} trunks")
            for attribute, value in settings.items():
                setattr(trunk, attribute, value)
            await self._check_unique(db, trunk)
            trunk.dod_bindings = _renumbered(
                await self._dod_rows(db, "extension", extension_dods or [])
                + await self._dod_rows(db, "group", group_dods or [])
            )
            db.add(trunk)
        log.info("trunk %r (%s) added with id %s", trunk.name, kind, trunk.id)
        self._bus.publish(ConfigChange("trunk", trunk.name, "add"))
        return trunk

    async def update(self, trunk_id: int | None, request: TrunkInput) -> None:
        kind = validation.trunk_type(request.kind)
        values = request.values
        async with config_transaction(self._sessions) as db:
            trunk = await self._locked(db, trunk_id)
            if trunk.kind != kind:
                raise DomainError(validation.TYPE_INVALID, "the type of a trunk cannot change")
            settings = self._checked_settings(kind, values)
            extension_dods, group_dods = _checked_dods(values)
            old_name = trunk.name
            for attribute, value in settings.items():
                setattr(trunk, attribute, value)
            await self._check_unique(db, trunk)
            if extension_dods is not None or group_dods is not None:
                current = trunk.dod_bindings
                extension_rows = [row for row in current if row.target_kind == "extension"]
                group_rows = [row for row in current if row.target_kind == "group"]
                if extension_dods is not None:
                    extension_rows = await self._dod_rows(db, "extension", extension_dods)
                if group_dods is not None:
                    group_rows = await self._dod_rows(db, "group", group_dods)
                trunk.dod_bindings = _renumbered([*extension_rows, *group_rows])
        self._publish_update(old_name, trunk.name)

    async def update_options(self, trunk_id: int | None, values: dict[str, str]) -> None:
        """KiloPBX settings (trunk/update_settings): `values` keyed by wire name."""
        async with config_transaction(self._sessions) as db:
            trunk = await self._locked(db, trunk_id)
            options.apply_options(trunk, values, options.OPTIONS)
            name = trunk.name
        self._publish_update(name, name)

    async def delete(self, ids: list[int] | None) -> list[str]:
        """Delete trunks (None: all), all or nothing. Routes lose the deleted trunks
        from their trunk lists (database cascade on the route-trunk links)."""
        async with routing_config_lock():
            try:
                async with write_transaction(self._sessions) as db:
                    query = select(Trunk.id, Trunk.name).with_for_update()
                    if ids is not None:
                        query = query.where(Trunk.id.in_(ids))
                    found = (await db.execute(query.order_by(Trunk.id))).all()
                    if ids is not None and len(found) != len(ids):
                        raise DomainError(validation.TRUNK_UNKNOWN)
                    doomed = [row.id for row in found]
                    await db.execute(delete(TrunkDod).where(TrunkDod.trunk_id.in_(doomed)))
                    await db.execute(delete(Trunk).where(Trunk.id.in_(doomed)))
            except DomainError:
                raise
            except Exception as exc:
                log.exception("deleting trunks failed")
                raise DomainError(validation.DELETE_FAILED) from exc
        names = [row.name for row in found]
        for name in names:
            self._bus.publish(ConfigChange("trunk", name, "del"))
        return names

    async def forget_extensions(self, db: AsyncSession, numbers: list[str]) -> None:
        """Extensions are being deleted (inside that transaction): drop their DOD bindings."""
        await db.execute(
            delete(TrunkDod).where(
                TrunkDod.target_kind == "extension", TrunkDod.target.in_(numbers)
            )
        )

    async def forget_group(self, db: AsyncSession, group_id: int) -> None:
        """An extension group is being deleted (inside its transaction)."""
        await db.execute(delete(TrunkDod).where(TrunkDod.group_id == group_id))

    async def renumber_extension(self, db: AsyncSession, old: str, new: str) -> None:
        """An extension is being renumbered (inside its transaction): keep its bindings."""
        await db.execute(
            update(TrunkDod)
            .where(TrunkDod.target_kind == "extension", TrunkDod.target == old)
            .values(target=new)
        )

    # -- helpers -----------------------------------------------------------------------------

    def _publish_update(self, old_name: str, new_name: str) -> None:
        if old_name == new_name:
            self._bus.publish(ConfigChange("trunk", new_name, "update"))
        else:  # clients key on the name: a rename is a delete plus an add (10-auth-system)
            self._bus.publish(ConfigChange("trunk", old_name, "del"))
            self._bus.publish(ConfigChange("trunk", new_name, "add"))

    async def _locked(self, db: AsyncSession, trunk_id: int | None) -> Trunk:
        if trunk_id is None:
            raise DomainError(validation.TRUNK_UNKNOWN)
        found = await db.execute(select(Trunk).where(Trunk.id == trunk_id).with_for_update())
        trunk = found.scalar_one_or_none()
        if trunk is None:
            raise DomainError(validation.TRUNK_UNKNOWN)
        return trunk

    def _checked_settings(self, kind: str, values: dict[str, str]) -> dict[str, object]:
        """Validated attribute values of the fields sent that belong to `kind`."""
        applicable = FIELDS_OF_TYPE[kind]
        settings: dict[str, object] = {}
        for name in _CHECK_ORDER:
            if name not in values:
                continue
            text = values[name]
            if name == "name":
                settings["name"] = validation.trunk_name(text)
            elif name == "port":
                if "port" in applicable:
                    settings["port"] = validation.port(text)
            elif name in applicable:
                settings[name] = _PARSERS[name](text)
        if "did_setting" in values:
            settings["did_setting"] = validation.did_setting(values["did_setting"])
        return settings

    async def _check_unique(self, db: AsyncSession, trunk: Trunk) -> None:
        others = select(Trunk).where(Trunk.id != trunk.id) if trunk.id else select(Trunk)
        same_name = await db.execute(others.where(Trunk.name == trunk.name).limit(1))
        if same_name.first() is not None:
            raise DomainError(validation.NAME_TAKEN, f"trunk name {trunk.name} is used")
        if trunk.kind == "register":
            clash = others.where(
                Trunk.kind == "register",
                Trunk.username == trunk.username,
                Trunk.host == trunk.host,
            )
        elif trunk.kind == "account":
            clash = others.where(Trunk.kind == "account", Trunk.username == trunk.username)
            if await self._other.extension_exists(db, trunk.username):
                raise DomainError(validation.USERNAME_TAKEN, "username is an extension number")
        else:
            return
        if (await db.execute(clash.limit(1))).first() is not None:
            raise DomainError(validation.USERNAME_TAKEN, "username already used by a trunk")

    async def _dod_rows(
        self, db: AsyncSession, target_kind: str, entries: list[validation.DodEntry]
    ) -> list[TrunkDod]:
        rows: list[TrunkDod] = []
        for entry in entries:
            row = TrunkDod(target_kind=target_kind, number=entry.number, name=entry.name)
            if target_kind == "extension":
                if not await self._other.extension_exists(db, entry.target):
                    raise DomainError(
                        validation.DOD_EXTENSION_UNKNOWN, f"no extension {entry.target}"
                    )
                row.target = entry.target
            else:
                row.target = ""
                row.group_id = await self._other.extension_group_id(db, entry.target)
                if row.group_id is None:
                    raise DomainError(validation.DOD_GROUP_UNKNOWN, f"no group {entry.target}")
            rows.append(row)
        return rows


def _checked_dods(
    values: dict[str, str],
) -> tuple[list[validation.DodEntry] | None, list[validation.DodEntry] | None]:
    extension_dods = group_dods = None
    if "extensions_dod" in values:
        extension_dods = validation.dod_entries(values["extensions_dod"])
    if "groups_dod" in values:
        group_dods = validation.dod_entries(values["groups_dod"])
    return extension_dods, group_dods


def _renumbered(rows: list[TrunkDod]) -> list[TrunkDod]:
    for position, row in enumerate(rows):
        row.position = position
    return rows


def dod_text(trunk: Trunk, target_kind: str, group_names: dict[int, str]) -> str:
    """The wire DOD string of one kind; bindings of vanished groups are left out."""
    entries = []
    for row in trunk.dod_bindings:
        if row.target_kind != target_kind:
            continue
        target = row.target if row.group_id is None else group_names.get(row.group_id)
        if target:
            entries.append(validation.DodEntry(row.number, row.name, target))
    return validation.format_dod(entries)


TRUNKS: Key[TrunkService] = Key("trunks")
