"""KiloPBX extensions: ask the number plan who holds a number, list the feature codes."""

from __future__ import annotations

from typing import Any

from kilopbx.api.router import Request, endpoint
from kilopbx.apps.extensions.validation import required_text
from kilopbx.apps.numberplan import FEATURE_CODES, NUMBERS


@endpoint("numberplan/query", needs_body=True)
async def numberplan_query(req: Request) -> dict[str, Any]:
    number = required_text(req.body, "number").strip()
    async with req.pbx.db() as db:
        holder = await req.pbx.registry.get(NUMBERS).holder(db, number)
    return {"number": number, "inuse": "no" if holder is None else "yes", "usedby": holder or ""}


@endpoint("numberplan/featurecodes")
async def numberplan_featurecodes(req: Request) -> dict[str, Any]:
    return {
        "featurecodes": [
            {"code": code, "function": function} for code, function in FEATURE_CODES.items()
        ]
    }
