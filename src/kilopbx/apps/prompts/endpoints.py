"""The prompt endpoints, a KiloPBX extension (docs/api-extensions/prompts.md):
list, upload and delete custom prompts."""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Any

from kilopbx.api.params import required
from kilopbx.api.reasons import map_reasons
from kilopbx.api.router import Request, endpoint
from kilopbx.apps.prompts import store as prompts
from kilopbx.apps.prompts.store import PROMPTS, PromptStore
from kilopbx.core.errors import DomainError


def _store(req: Request) -> PromptStore:
    return req.pbx.registry.get(PROMPTS)


@endpoint("prompt/query")
async def query(req: Request) -> dict[str, Any]:
    store = _store(req)
    custom = await asyncio.to_thread(store.names, custom=True)
    system = await asyncio.to_thread(store.names, custom=False)
    return {
        "custom": [{"name": n, "seconds": str(round(store.seconds(n)))} for n in custom],
        "system": system,
    }


@endpoint("prompt/upload", needs_body=True)
async def upload(req: Request) -> dict[str, Any]:
    name = prompts.clean_name(required(req.body, "name"))
    text = required(req.body, "data")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise DomainError(prompts.FILE_INVALID, "data is not base64") from None
    seconds = await asyncio.to_thread(_store(req).install, name, data)
    return {"name": name, "seconds": str(round(seconds))}


@endpoint("prompt/delete", needs_body=True)
async def delete(req: Request) -> dict[str, Any]:
    name = prompts.clean_name(required(req.body, "name"))
    if not await asyncio.to_thread(_store(req).delete, name):
        raise DomainError(prompts.NOT_FOUND, f"no custom prompt {name!r}")
    return {"name": name}


map_reasons(
    {
        prompts.NAME_INVALID: "10930",
        prompts.FILE_INVALID: "10931",
        prompts.NOT_FOUND: "10023",
    }
)
