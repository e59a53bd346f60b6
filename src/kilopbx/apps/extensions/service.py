"""The one place that changes extensions: validates against the stored state, commits,
then keeps the in-memory views current and announces the change.

After every commit: the directory is updated (what the registrar reads; its accounts
also say whether ExtensionStatus events go out for an extension), and `ConfigChange`
events go out on the bus (spec 10: add / del / update; renumbering is del of the old
number followed by add of the new one).

Writes are serialised by one lock: each is a read-check-write on the merged record, and
the PBX is one process. Each also owns the database's write lock from its first check
(`write_transaction`), so other features' writes cannot slip in between. Adds and
renumbers hold the number-plan lock too, so no other kind of object can take the same
number between the check and the commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kilopbx.apps.extensions.listing import ExtensionListing
from kilopbx.apps.extensions.models import (
    FORWARD_CONDITIONS,
    FORWARD_CUSTOM,
    FORWARD_EXTENSION,
    FORWARD_MOBILE,
    FORWARD_VOICEMAIL,
    Extension,
)
from kilopbx.apps.extensions.passwords import LOGIN_PASSWORD_MIN, generate_password, md5_hex
from kilopbx.apps.extensions.validation import (
    INVALID,
    NOT_FOUND,
    check_record,
    forward_targets,
    login_password_change,
)
from kilopbx.apps.extensions.wire import number_order
from kilopbx.apps.numberplan import NumberPlan, number_plan_lock
from kilopbx.core.errors import DomainError
from kilopbx.core.registry import Key
from kilopbx.engine.directory import (
    MAX_EXTENSIONS,
    AccountDirectory,
    CallSettings,
    Forward,
    SipAccount,
)
from kilopbx.events.types import ConfigChange
from kilopbx.store.database import write_transaction

if TYPE_CHECKING:
    from kilopbx.engine.host import Host

log = logging.getLogger(__name__)

NUMBER_KIND = "extension"
# callback(db, number): runs inside the deleting transaction, before the row goes
DeletedCallback = Callable[[AsyncSession, str], Awaitable[None]]
# callback(db, numbers): the same for a batch of numbers (one statement cleans up many)
BatchDeletedCallback = Callable[[AsyncSession, list[str]], Awaitable[None]]
# the most numbers one batch callback gets, so that a `WHERE ... IN (numbers)` stays
# well below every database's limit on bound parameters
DELETE_BATCH = 500
# callback(db, old_number, new_number): runs inside the renumbering transaction
RenumberedCallback = Callable[[AsyncSession, str, str], Awaitable[None]]

# every column an API write may touch, with its value on a fresh extension
COLUMN_NAMES = [c.key for c in Extension.__table__.columns if c.key != "id"]


async def extension_holder(db: AsyncSession, number: str) -> str | None:
    """Number-plan lookup: 'extension "Ana Costa" (2101)' or None."""
    name = await db.scalar(select(Extension.display_name).where(Extension.number == number))
    return None if name is None else f'extension "{name}" ({number})'


def new_extension_values(number: str) -> dict[str, Any]:
    """Defaults of spec 21's "default on add" column, before the request is applied."""
    values: dict[str, Any] = {}
    for column in Extension.__table__.columns:
        default = column.default
        if default is not None and default.is_scalar:
            values[column.key] = default.arg
    values.update(number=number, caller_id="", voicemail_pin="", max_call_seconds=None)
    return values


def account_of(ext: Extension) -> SipAccount:
    return SipAccount(
        number=ext.number,
        auth_name=ext.auth_name,
        password=ext.sip_password,
        max_registrations=ext.max_registrations,
        display_name=ext.display_name,
        caller_id=ext.caller_id,
        status_monitored=ext.status_monitored,
        calls=CallSettings(
            ring_timeout=ext.ring_timeout,
            max_call_seconds=ext.max_call_seconds,
            do_not_disturb=ext.do_not_disturb,
            call_waiting=ext.call_waiting,
            hide_number=ext.hide_number,
            pickup_group=ext.pickup_group,
            forward_always=_forward(ext, "always"),
            forward_busy=_forward(ext, "busy"),
            forward_no_answer=_forward(ext, "no_answer"),
            may_be_monitored=ext.allow_being_monitored,
            monitor_mode=ext.monitor_mode,
        ),
    )


def _forward(ext: Extension, condition: str) -> Forward | None:
    """The engine's view of one forwarding rule: off, or where it sends the call."""
    if not getattr(ext, f"{condition}_forward"):
        return None
    kind = getattr(ext, f"{condition}_forward_to")
    prefix = getattr(ext, f"{condition}_forward_prefix")
    if kind == FORWARD_EXTENSION:
        return Forward("extension", getattr(ext, f"{condition}_forward_extension"))
    if kind == FORWARD_MOBILE:
        return Forward("number", prefix + ext.mobile)
    if kind == FORWARD_CUSTOM:
        return Forward("number", prefix + getattr(ext, f"{condition}_forward_number"))
    return Forward("voicemail")


class ExtensionService:
    """Extensions: the database is the truth; the service also keeps a read snapshot of
    every row (about a thousand), the directory and the monitor set, all refreshed under
    the write lock right after each commit. This service is the only writer.

    Every change of the snapshot goes through `_stored`, `_dropped` or `load`, which
    bump `generation`: views derived from the snapshot (the number order, extension/list's
    rendered entries) are kept while the generation they were made from is current."""

    def __init__(self, pbx: Host, directory: AccountDirectory, numbers: NumberPlan) -> None:
        self.pbx = pbx
        self.directory = directory
        self.numbers = numbers
        self._write_lock = asyncio.Lock()
        self._deleted_callbacks: list[DeletedCallback] = []
        self._batch_deleted_callbacks: list[BatchDeletedCallback] = []
        self._renumbered_callbacks: list[RenumberedCallback] = []
        self._snapshot: dict[str, Extension] = {}
        self._generation = 0
        self._ordered: tuple[Extension, ...] | None = None
        # extension/list's rendered entries, kept for the current generation
        self.listing = ExtensionListing()

    # -- hooks for other features ---------------------------------------------------------

    def on_extensions_deleted(self, callback: BatchDeletedCallback) -> None:
        """`callback(db, numbers)` runs in the delete's transaction, before the rows go,
        with every number the request removes (in batches of at most `DELETE_BATCH`);
        an exception aborts the whole delete. Clean up with set-based statements: the
        delete holds the database's write lock while the callbacks run, so per-number
        work on "all" keeps every other writer waiting."""
        self._batch_deleted_callbacks.append(callback)

    def on_extension_deleted(self, callback: DeletedCallback) -> None:
        """`callback(db, number)`, once per deleted number, like `on_extensions_deleted`.
        Slow for a bulk delete: features use the batch hook."""
        self._deleted_callbacks.append(callback)

    def on_extension_renumbered(self, callback: RenumberedCallback) -> None:
        """`callback(db, old, new)` runs in the renumber's transaction (for features that
        keep extension numbers rather than row ids)."""
        self._renumbered_callbacks.append(callback)

    def is_monitored(self, number: str) -> bool:
        return self.directory.status_monitored(number)

    # -- reads ----------------------------------------------------------------------------

    async def load(self) -> None:
        """Start-up: fill the snapshot and the directory."""
        async with self.pbx.db() as db:
            rows = list((await db.execute(select(Extension))).scalars())
        self._snapshot = {ext.number: ext for ext in rows}
        self._changed()
        self.directory.load([account_of(ext) for ext in rows])

    async def count(self) -> int:
        return len(self._snapshot)

    async def all(self) -> list[Extension]:
        return list(self._snapshot.values())

    @property
    def generation(self) -> int:
        """Changes with every change of the snapshot (and only then)."""
        return self._generation

    def in_order(self) -> Sequence[Extension]:
        """Every extension in ascending numeric order (sorted once per generation)."""
        if self._ordered is None:
            rows = sorted(self._snapshot.values(), key=lambda ext: number_order(ext.number))
            self._ordered = tuple(rows)
        return self._ordered

    async def find(self, numbers: Iterable[str]) -> list[Extension]:
        found = (self._snapshot.get(number) for number in dict.fromkeys(numbers))
        return [ext for ext in found if ext is not None]

    def get(self, number: str) -> Extension | None:
        """The extension as last committed (a detached row: read it, do not change it)."""
        return self._snapshot.get(number)

    async def exists(self, db: AsyncSession, number: str) -> bool:
        return await db.scalar(select(Extension.id).where(Extension.number == number)) is not None

    # -- writes ---------------------------------------------------------------------------

    async def add(self, number: str, changes: dict[str, Any], login_password: str | None) -> None:
        async with number_plan_lock(), self._write_lock:
            async with write_transaction(self.pbx.db) as db:
                count = await db.scalar(select(func.count()).select_from(Extension)) or 0
                if count >= MAX_EXTENSIONS:
                    raise DomainError(INVALID, detail=f"capacity of {MAX_EXTENSIONS} reached")
                await self.numbers.ensure_free(db, number, INVALID)
                record = {**new_extension_values(number), **changes}
                record["caller_id"] = record["caller_id"] or number
                record["voicemail_pin"] = record["voicemail_pin"] or number
                if login_password is None:
                    login_password = generate_password(
                        LOGIN_PASSWORD_MIN, number=number, username=record["display_name"]
                    )
                    check_record(record, new_login_password=None)
                else:
                    check_record(record, new_login_password=login_password)
                record["login_password_md5"] = md5_hex(login_password)
                await self._check_references(db, record, own_id=None)
                ext = Extension(**record)
                db.add(ext)
            self._applied(ext)
            self.pbx.bus.publish(ConfigChange(NUMBER_KIND, number, "add"))

    async def update(
        self, number: str, changes: dict[str, Any], login_password: str | None
    ) -> None:
        async with self._write_lock:
            async with write_transaction(self.pbx.db) as db:
                ext = await self._get(db, number)
                record = {name: getattr(ext, name) for name in COLUMN_NAMES}
                record.update(changes)
                record["caller_id"] = record["caller_id"] or number
                record["voicemail_pin"] = record["voicemail_pin"] or number
                new_login = login_password_change(login_password, ext.login_password_md5)
                check_record(record, new_login_password=new_login)
                if new_login is not None:
                    record["login_password_md5"] = md5_hex(new_login)
                await self._check_references(db, record, own_id=ext.id)
                changed = [name for name in COLUMN_NAMES if getattr(ext, name) != record[name]]
                for name in changed:
                    setattr(ext, name, record[name])
            if changed:
                self._applied(ext)
                self.pbx.bus.publish(ConfigChange(NUMBER_KIND, number, "update"))

    async def delete(self, selector: list[str] | None) -> list[str]:
        """Delete the listed numbers (None: every extension); unknown ones are skipped, but
        a selector naming no existing extension answers 10006. Returns the deleted."""
        async with self._write_lock:
            async with write_transaction(self.pbx.db) as db:
                doomed = await self._selected(db, selector)
                numbers = [ext.number for ext in doomed]
                for start in range(0, len(numbers), DELETE_BATCH):
                    batch = numbers[start : start + DELETE_BATCH]
                    for batch_callback in self._batch_deleted_callbacks:
                        await batch_callback(db, batch)
                for number in numbers:
                    for callback in self._deleted_callbacks:
                        await callback(db, number)
                forwarders = await self._clear_forwards_to(db, set(numbers))
                await db.execute(
                    delete(Extension)
                    .where(Extension.id.in_([ext.id for ext in doomed]))
                    .execution_options(synchronize_session=False)
                )
            for number in numbers:
                self._removed(number)
                self.pbx.bus.publish(ConfigChange(NUMBER_KIND, number, "del"))
            await self._refresh_and_announce(forwarders)
        return numbers

    async def renumber(self, old: str, new: str) -> None:
        async with number_plan_lock(), self._write_lock:
            async with write_transaction(self.pbx.db) as db:
                ext = await self._get(db, old)
                if new == old:
                    return
                await self.numbers.ensure_free(
                    db, new, INVALID, ignore_kind=NUMBER_KIND, ignore_number=old
                )
                ext.number = new
                if ext.caller_id == old:
                    ext.caller_id = new
                forwarders = await self._redirect_forwards(db, old, new)
                for callback in self._renumbered_callbacks:
                    await callback(db, old, new)
            self._removed(old)
            self._applied(ext)
            self.pbx.bus.publish(ConfigChange(NUMBER_KIND, old, "del"))
            self.pbx.bus.publish(ConfigChange(NUMBER_KIND, new, "add"))
            await self._refresh_and_announce(forwarders - {new})

    async def set_monitoring(self, selector: list[str] | None, monitored: bool) -> list[str]:
        """Turn status monitoring on/off for the listed extensions (None: all)."""
        async with self._write_lock:
            async with write_transaction(self.pbx.db) as db:
                rows = await self._selected(db, selector)
                for ext in rows:
                    ext.status_monitored = monitored
            for ext in rows:
                self._applied(ext)
        return [ext.number for ext in rows]

    async def set_call_waiting(self, selector: list[str] | None, waiting: bool | None) -> None:
        """Call waiting on, off or back to the PBX-wide setting (None) for the listed
        extensions (None: all)."""
        async with self._write_lock:
            async with write_transaction(self.pbx.db) as db:
                rows = await self._selected(db, selector)
                for ext in rows:
                    ext.call_waiting = waiting
            for ext in rows:
                self._applied(ext)

    async def set_hide_number(self, selector: list[str] | None, hidden: bool) -> None:
        """Whether the listed extensions (None: all) hide their number on outside calls."""
        async with self._write_lock:
            async with write_transaction(self.pbx.db) as db:
                rows = await self._selected(db, selector)
                for ext in rows:
                    ext.hide_number = hidden
            for ext in rows:
                self._applied(ext)

    async def set_pickup_group(self, selector: list[str] | None, group: str) -> None:
        """The pickup group ("" for none) of the listed extensions (None: all)."""
        async with self._write_lock:
            async with write_transaction(self.pbx.db) as db:
                rows = await self._selected(db, selector)
                for ext in rows:
                    ext.pickup_group = group
            for ext in rows:
                self._applied(ext)

    # -- helpers --------------------------------------------------------------------------

    async def _get(self, db: AsyncSession, number: str) -> Extension:
        ext = await db.scalar(select(Extension).where(Extension.number == number))
        if ext is None:
            raise DomainError(NOT_FOUND, detail=f"no extension {number}")
        return ext

    async def _selected(self, db: AsyncSession, selector: list[str] | None) -> list[Extension]:
        """The listed extensions (None: all); a list naming none of them answers 10006."""
        query = select(Extension)
        if selector is not None:
            query = query.where(Extension.number.in_(selector))
        rows = list((await db.execute(query)).scalars())
        if not rows and selector is not None:
            raise DomainError(NOT_FOUND, detail="no such extension")
        return rows

    async def _check_references(
        self, db: AsyncSession, record: dict[str, Any], own_id: int | None
    ) -> None:
        holder = await db.scalar(
            select(Extension.id).where(Extension.auth_name == record["auth_name"])
        )
        if holder is not None and holder != own_id:
            raise DomainError(INVALID, detail=f"registername {record['auth_name']} is in use")
        for field, target in forward_targets(record).items():
            if not await self.exists(db, target):
                raise DomainError(INVALID, detail=f"{field}: no extension {target}")

    async def _clear_forwards_to(self, db: AsyncSession, numbers: set[str]) -> set[str]:
        """Forwardings of surviving extensions that point at deleted ones go back to the
        caller's own voicemail. Returns the numbers of the extensions that changed."""
        changed: set[str] = set()
        for condition in FORWARD_CONDITIONS:
            target = getattr(Extension, f"{condition}_forward_extension")
            kind = getattr(Extension, f"{condition}_forward_to")
            affected = (
                Extension.number.not_in(numbers),
                target.in_(numbers),
                kind == FORWARD_EXTENSION,
            )
            found = await db.scalars(select(Extension.number).where(*affected))
            changed.update(found)
            await db.execute(
                update(Extension)
                .where(*affected)
                .values({kind: FORWARD_VOICEMAIL, target: ""})
                .execution_options(synchronize_session=False)
            )
        return changed

    async def _redirect_forwards(self, db: AsyncSession, old: str, new: str) -> set[str]:
        changed: set[str] = set()
        for condition in FORWARD_CONDITIONS:
            target = getattr(Extension, f"{condition}_forward_extension")
            found = await db.scalars(select(Extension.number).where(target == old))
            changed.update(found)
            await db.execute(
                update(Extension)
                .where(target == old)
                .values({target: new})
                .execution_options(synchronize_session=False)
            )
        return changed

    def _applied(self, ext: Extension) -> None:
        self._stored(ext)
        self.directory.put(account_of(ext))

    def _removed(self, number: str) -> None:
        self._dropped(number)
        self.directory.remove(number)

    # the only writers of the snapshot: each change moves the generation on

    def _stored(self, ext: Extension) -> None:
        self._snapshot[ext.number] = ext
        self._changed()

    def _dropped(self, number: str) -> None:
        self._snapshot.pop(number, None)
        self._changed()

    def _changed(self) -> None:
        self._generation += 1
        self._ordered = None

    async def _refresh_and_announce(self, numbers: set[str]) -> None:
        """Rows changed by a bulk statement: re-read them (the directory too: the call
        engine reads forwarding there), then announce each update."""
        if not numbers:
            return
        async with self.pbx.db() as db:
            query = select(Extension).where(Extension.number.in_(numbers))
            for ext in await db.scalars(query):
                self._applied(ext)
        for number in sorted(numbers):
            self.pbx.bus.publish(ConfigChange(NUMBER_KIND, number, "update"))


EXTENSIONS: Key[ExtensionService] = Key("extensions")
