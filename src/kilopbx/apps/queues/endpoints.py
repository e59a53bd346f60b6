"""queue/query and queue/update (spec 41-queues.md) and the KiloPBX extensions
queue/add and queue/delete."""

from __future__ import annotations

from typing import Any

from kilopbx.api.params import required
from kilopbx.api.reasons import map_reasons
from kilopbx.api.router import Request, endpoint
from kilopbx.apps.queues import wire
from kilopbx.apps.queues.service import QUEUES, QUEUES_SERVICE, QueueService
from kilopbx.apps.queues.wire import QUEUE_INVALID, parse_changes, render, selected_number
from kilopbx.apps.ring_groups.numbered import update_existing
from kilopbx.apps.ring_groups.values import parse_ivr_queue_name, parse_number, required_text


def _service(req: Request) -> QueueService:
    return req.pbx.registry.get(QUEUES_SERVICE)


def _number(req: Request) -> str:
    return required_text(selected_number(req.body))


@endpoint("queue/query", needs_body=True)
async def queue_query(req: Request) -> dict[str, Any]:
    found = await QUEUES.selected(_service(req).query, _number(req))
    return {"queues": [render(s.queue, s.static_agents, s.dynamic_agents) for s in found]}


@endpoint("queue/update", needs_body=True)
async def queue_update(req: Request) -> dict[str, Any]:
    await update_existing(_service(req), _number(req), lambda: parse_changes(req.body))
    return {}


@endpoint("queue/add", needs_body=True)
async def queue_add(req: Request) -> dict[str, Any]:
    number = parse_number(required(req.body, "number"), QUEUE_INVALID)
    name = parse_ivr_queue_name(required(req.body, "queuename"), QUEUE_INVALID, "queuename")
    await _service(req).add(number, name, parse_changes(req.body))
    return {}


@endpoint("queue/delete", needs_body=True)
async def queue_delete(req: Request) -> dict[str, Any]:
    await _service(req).delete(QUEUES.chosen(_number(req)))
    return {}


# the errno each reason of this feature answers on the wire (X-KiloPBX-Detail
# carries the detail)
map_reasons(
    {
        wire.QUEUE_MISSING: "10013",
        wire.QUEUE_INVALID: "10019",
        wire.NUMBER_IN_USE: "10100",
    }
)
