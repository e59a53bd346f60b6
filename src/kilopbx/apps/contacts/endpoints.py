"""companycontacts/query, add, update, delete (spec 20) and the KiloPBX extension
companycontacts/search (docs/api-extensions/extensions.md)."""

from __future__ import annotations

from typing import Any

from kilopbx.api.router import Request, endpoint
from kilopbx.apps.contacts.service import CONTACTS
from kilopbx.apps.contacts.wire import contact_wire, parse_contact_fields, parse_ids
from kilopbx.apps.extensions.validation import required_text
from kilopbx.core.errors import MISSING_PARAMETER, DomainError


@endpoint("companycontacts/query", needs_body=True)
async def companycontacts_query(req: Request) -> dict[str, Any]:
    ids = parse_ids(required_text(req.body, "id"))
    contacts = await req.pbx.registry.get(CONTACTS).query(ids)
    return {"companycontacts": [contact_wire(c) for c in contacts]}


@endpoint("companycontacts/add", needs_body=True)
async def companycontacts_add(req: Request) -> dict[str, Any]:
    required_text(req.body, "lastname")
    required_text(req.body, "firstname")
    values = parse_contact_fields(req.body)
    contact_id = await req.pbx.registry.get(CONTACTS).add(values)
    return {"id": str(contact_id)}


@endpoint("companycontacts/update", needs_body=True)
async def companycontacts_update(req: Request) -> None:
    ids = parse_ids(required_text(req.body, "id"))
    if ids is None or len(ids) != 1:
        raise DomainError(MISSING_PARAMETER, detail="id: a single contact id")
    values = parse_contact_fields(req.body)
    await req.pbx.registry.get(CONTACTS).update(ids[0], values)


@endpoint("companycontacts/delete", needs_body=True)
async def companycontacts_delete(req: Request) -> None:
    ids = parse_ids(required_text(req.body, "id"))
    await req.pbx.registry.get(CONTACTS).delete(ids)


@endpoint("companycontacts/search", needs_body=True)
async def companycontacts_search(req: Request) -> dict[str, Any]:
    keyword = required_text(req.body, "keyword")
    contacts = await req.pbx.registry.get(CONTACTS).search(keyword)
    return {"companycontacts": [contact_wire(c) for c in contacts]}
