"""Contact fields as spec 20 names them, and their validation (errno 10004 throughout,
as spec 20 proposes: the error list has no contact-specific numbers)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kilopbx.apps.contacts.models import Contact
from kilopbx.apps.extensions.selectors import parse_selector
from kilopbx.apps.extensions.validation import has_control_chars
from kilopbx.core.errors import MISSING_PARAMETER, DomainError

TEXT_MAX = 127
NUMBER_MAX = 31
NUMBER_RE = re.compile(r"[0-9+*#\-() ]*")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+")

# wire name -> model attribute, in the spec's order
TEXT_FIELDS = {
    "lastname": "last_name",
    "firstname": "first_name",
    "company": "company",
    "email": "email",
}
NUMBER_FIELDS = {
    "businessnum": "business_number",
    "businessnum2": "business_number_2",
    "mobile": "mobile",
    "mobile2": "mobile_2",
    "homenum": "home_number",
    "homenum2": "home_number_2",
    "businessfax": "business_fax",
    "homefax": "home_fax",
    "othernum": "other_number",
}
ADDRESS_FIELDS = {
    "zipcode": "zip_code",
    "street": "street",
    "city": "city",
    "state": "state",
    "country": "country",
}
ALL_FIELDS = {**TEXT_FIELDS, **NUMBER_FIELDS, **ADDRESS_FIELDS}
WIRE_ORDER = ["id", "firstname", "lastname", *[k for k in ALL_FIELDS if "name" not in k]]


def bad(field: str, why: str) -> DomainError:
    return DomainError(MISSING_PARAMETER, detail=f"{field}: {why}")


def parse_field(field: str, value: Any) -> str:
    if isinstance(value, (dict, list)):
        raise bad(field, "must be a string or a number")
    if isinstance(value, bool):
        raise bad(field, "must be text")
    text = "" if value is None else str(value).strip()
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    if field in NUMBER_FIELDS:
        if len(text) > NUMBER_MAX or not NUMBER_RE.fullmatch(text):
            raise bad(field, f"digits and + * # - ( ) space only, at most {NUMBER_MAX}")
        return text
    if len(text) > TEXT_MAX:
        raise bad(field, f"at most {TEXT_MAX} characters")
    if has_control_chars(text):
        raise bad(field, "control characters are not allowed")
    if field == "email" and text and not EMAIL_RE.fullmatch(text):
        raise bad(field, "must look like local@domain")
    return text


def parse_contact_fields(body: Mapping[str, Any]) -> dict[str, str]:
    """Model attribute -> value for every contact field present in the request."""
    return {
        attr: parse_field(wire, body[wire]) for wire, attr in ALL_FIELDS.items() if wire in body
    }


def check_contact(record: Mapping[str, str]) -> None:
    """Spec 20's invariants: both names, and at least one contact number."""
    for wire in ("firstname", "lastname"):
        if not record.get(ALL_FIELDS[wire]):
            raise bad(wire, "is required")
    if not any(record.get(attr) for attr in NUMBER_FIELDS.values()):
        raise bad("contact numbers", "at least one is required")


def parse_ids(text: str) -> list[int] | None:
    """None for "all"; a token that is not an id answers 10004 (spec 20, Proposed)."""
    entries = parse_selector(text)
    if entries is None:
        return None
    if not entries or not all(e.isascii() and e.isdigit() and len(e) <= 9 for e in entries):
        raise bad("id", 'ids, a comma-separated list of ids, or "all"')
    return [int(e) for e in entries]


def contact_wire(contact: Contact) -> dict[str, str]:
    values = {wire: getattr(contact, attr) for wire, attr in ALL_FIELDS.items()}
    values["id"] = str(contact.id)
    return {key: values[key] for key in WIRE_ORDER}
