"""The prompt endpoints: `call/playprompt` (70-call-control.md), and the prompt store,
a KiloPBX extension (docs/api-extensions/prompts.md): list, upload, delete."""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Any

from kilopbx.api.params import optional, required
from kilopbx.api.reasons import map_reasons
from kilopbx.api.router import Request, endpoint
from kilopbx.apps.prompts import store as prompts
from kilopbx.apps.prompts.store import PROMPTS, PromptStore
from kilopbx.core.errors import MISSING_PARAMETER, DomainError
from kilopbx.engine.calls import CALLS
from kilopbx.engine.prompt_call import CALLEE_UNREACHABLE, PromptCallEnded
from kilopbx.events.bus import EventBus
from kilopbx.events.call_events import PlayPromptEnd
from kilopbx.events.call_model import CallMember

NUMBER_BLANK = "prompts.number_blank"
COUNT_RANGE = (1, 100)
VOLUME_RANGE = (0, 20)


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


@endpoint("call/playprompt", needs_body=True)
async def playprompt(req: Request) -> dict[str, Any]:
    number = (optional(req.body, "number") or "").strip()
    if not number:
        raise DomainError(NUMBER_BLANK, "number must not be empty")
    prompt = required(req.body, "prompt").strip()
    store = _store(req)
    sources: list[str] = []
    for name in prompt.split("+"):
        source = store.prompt(name) if any(c.isalpha() for c in name) else None
        if source is None:
            raise DomainError(prompts.NOT_FOUND, f"no prompt {name[:64]!r}")
        sources.append(source)
    count = _number(req.body, "count", 1, COUNT_RANGE)
    volume = _number(req.body, "volume", 10, VOLUME_RANGE)
    gain_db = -60.0 if volume == 0 else (volume - 10) * 2.0  # 10: as recorded; 2 dB a step
    auto_answer = _yes_no(req.body, "autoanswer", "no")
    auto_hangup = _yes_no(req.body, "autohangup", "yes")
    engine = req.pbx.registry.find(CALLS)
    if engine is None:
        raise DomainError(CALLEE_UNREACHABLE, "the call engine is not running")
    bus = req.pbx.bus
    call_id = engine.play_prompts(
        number, sources, count=count, auto_answer=auto_answer, auto_hangup=auto_hangup,
        gain_db=gain_db, done=lambda ended: _ended(bus, ended, prompt),
    )  # fmt: skip
    return {"callid": call_id}


def _ended(bus: EventBus, ended: PromptCallEnded, prompt: str) -> None:
    member = CallMember.extension(ended.number, ended.channel_id)
    bus.publish(PlayPromptEnd(ended.call_id, (member,), prompt=prompt))


def _number(body: dict[str, Any], key: str, default: int, bounds: tuple[int, int]) -> int:
    text = (optional(body, key) or "").strip()
    if not text:
        return default
    if not (text.isascii() and text.isdigit()) or not bounds[0] <= int(text) <= bounds[1]:
        raise DomainError(MISSING_PARAMETER, f"{key} must be {bounds[0]}-{bounds[1]}")
    return int(text)


def _yes_no(body: dict[str, Any], key: str, default: str) -> bool:
    text = (optional(body, key) or default).strip().lower()
    if text not in ("yes", "no"):
        raise DomainError(MISSING_PARAMETER, f"{key} is yes or no")
    return text == "yes"


map_reasons(
    {
        prompts.NAME_INVALID: "10930",
        prompts.FILE_INVALID: "10931",
        prompts.NOT_FOUND: "10023",
        NUMBER_BLANK: "10028",
        CALLEE_UNREACHABLE: "10008",
    }
)
