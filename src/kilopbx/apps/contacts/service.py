"""The one place that changes company contacts."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from sqlalchemy import delete, or_, select

from kilopbx.apps.contacts.models import Contact
from kilopbx.apps.contacts.wire import ALL_FIELDS, NUMBER_FIELDS, check_contact
from kilopbx.core.errors import MISSING_PARAMETER, DomainError
from kilopbx.core.registry import Key
from kilopbx.store.database import write_transaction

if TYPE_CHECKING:
    from kilopbx.engine.host import Host

SEARCH_LIMIT = 200


def digits_of(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


class ContactService:
    def __init__(self, pbx: Host) -> None:
        self.pbx = pbx
        self._write_lock = asyncio.Lock()

    async def query(self, ids: list[int] | None) -> list[Contact]:
        async with self.pbx.db() as db:
            query = select(Contact).order_by(Contact.id)
            if ids is not None:
                query = query.where(Contact.id.in_(ids))
            return list(await db.scalars(query))

    async def add(self, values: dict[str, str]) -> int:
        record = {attr: "" for attr in ALL_FIELDS.values()}
        record.update(values)
        check_contact(record)
        async with self._write_lock, write_transaction(self.pbx.db) as db:
            contact = Contact(**record)
            db.add(contact)
            await db.flush()
            return contact.id

    async def update(self, contact_id: int, values: dict[str, str]) -> None:
        async with self._write_lock, write_transaction(self.pbx.db) as db:
            contact = await db.get(Contact, contact_id)
            if contact is None:
                raise DomainError(MISSING_PARAMETER, detail=f"no contact {contact_id}")
            record = {attr: getattr(contact, attr) for attr in ALL_FIELDS.values()}
            record.update(values)
            check_contact(record)
            for attr, value in values.items():
                setattr(contact, attr, value)

    async def delete(self, ids: list[int] | None) -> None:
        async with self._write_lock, write_transaction(self.pbx.db) as db:
            query = delete(Contact)
            if ids is not None:
                query = query.where(Contact.id.in_(ids))
            await db.execute(query)

    async def search(self, keyword: str) -> list[Contact]:
        """Contacts whose name, company or e-mail contains `keyword` (any case), or one of
        whose numbers contains its digits (so "+44 20" finds "00442071234567")."""
        words = keyword.strip()
        pattern = f"%{escape_like(words)}%"
        conditions = [
            getattr(Contact, attr).ilike(pattern, escape="\\")
            for attr in ("first_name", "last_name", "company", "email")
        ]
        async with self.pbx.db() as db:
            query = select(Contact).where(or_(*conditions)).order_by(Contact.id)
            found = {c.id: c for c in await db.scalars(query.limit(SEARCH_LIMIT))}
            digits = digits_of(words)
            if digits and len(found) < SEARCH_LIMIT:
                for contact in await db.scalars(select(Contact).order_by(Contact.id)):
                    numbers = (digits_of(getattr(contact, a)) for a in NUMBER_FIELDS.values())
                    if any(digits in n for n in numbers):
                        found.setdefault(contact.id, contact)
        return sorted(found.values(), key=lambda c: c.id)[:SEARCH_LIMIT]


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


CONTACTS: Key[ContactService] = Key("contacts")
