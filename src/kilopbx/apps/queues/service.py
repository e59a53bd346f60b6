"""Queues: the only code that changes their configuration and static agents."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from kilopbx.apps.queues.models import Queue, QueueAgent
from kilopbx.apps.queues.wire import NUMBER_IN_USE, QUEUE_INVALID, QUEUE_MISSING, QueueChanges
from kilopbx.apps.ring_groups import destinations
from kilopbx.apps.ring_groups.config_store import change_destination, config_change
from kilopbx.apps.ring_groups.destinations import Destination
from kilopbx.apps.ring_groups.lookups import missing_extensions
from kilopbx.apps.ring_groups.numbered import NumberedObjects, NumberedService
from kilopbx.apps.ring_groups.values import shown
from kilopbx.core.errors import DomainError
from kilopbx.core.registry import Key

KIND = "queue"
QUEUES = NumberedObjects(
    Queue, "queue", QUEUE_MISSING, destination_kind=destinations.QUEUE, in_use_reason=QUEUE_INVALID
)


@dataclass
class StoredQueue:
    queue: Queue
    static_agents: list[str]
    dynamic_agents: list[str]


def new_queue(number: str, name: str) -> Queue:
    return Queue(
        number=number,
        name=name,
        agent_password="",
        ring_strategy="ringall",
        failover_type=destinations.HANGUP,
        failover_dest="",
        agent_timeout=30,
        agent_announce="",
        wrapup_time=10,
        ring_in_use=False,
        retry=10,
        music_on_hold="default",
        max_wait_time=600,
        join_when_empty=True,
        leave_when_empty=False,
        empty_conditions_join="1,2",
        empty_conditions_leave="1,2",
        join_announce="",
        announce_position=False,
        announce_frequency=0,
        announce_hold_time=False,
        user_announce="",
        user_announce_frequency=0,
        breakout_key="None",
        breakout_type=destinations.HANGUP,
        breakout_dest="",
        id_announcement="",
        satisfaction_survey="",
    )


class QueueService(NumberedService):
    objects = QUEUES

    async def query(self, numbers: list[str] | None) -> list[StoredQueue]:
        async with self._sessions() as db:
            found = []
            for queue in await QUEUES.rows(db, numbers):
                agents = list(
                    await db.scalars(
                        select(QueueAgent)
                        .where(QueueAgent.queue_number == queue.number)
                        .order_by(QueueAgent.position)
                    )
                )
                static = [a.extension for a in agents if not a.dynamic]
                dynamic = [a.extension for a in agents if a.dynamic]
                found.append(StoredQueue(queue, static, dynamic))
            return found

    async def add(self, number: str, name: str, changes: QueueChanges) -> None:
        async with config_change(self._sessions) as db:
            queue = await QUEUES.insert(db, new_queue(number, name), NUMBER_IN_USE, self._numbers)
            await _apply(db, queue, changes)

    async def update(self, number: str, changes: QueueChanges) -> None:
        async with config_change(self._sessions) as db:
            await _apply(db, await QUEUES.get(db, number), changes)


async def _apply(db: AsyncSession, queue: Queue, changes: QueueChanges) -> None:
    for attribute, value in changes.settings.items():
        setattr(queue, attribute, value)
    own = Destination(destinations.QUEUE, queue.number)
    for prefix, field in (("failover", "failoverdest"), ("breakout", "breakoutdest")):
        await change_destination(
            db,
            queue,
            (f"{prefix}_type", f"{prefix}_dest"),
            getattr(changes, f"{prefix}_type"),
            getattr(changes, f"{prefix}_value"),
            QUEUE_INVALID,
            field,
            own=own,
        )
    if changes.agents is not None:
        await _replace_static_agents(db, queue.number, changes.agents)


async def _replace_static_agents(db: AsyncSession, number: str, agents: list[str]) -> None:
    unknown = await missing_extensions(db, agents)
    if unknown:
        raise DomainError(QUEUE_INVALID, detail=f"agents: no extension {shown(unknown[0])}")
    # a static agent cannot also be logged in dynamically (spec 41, Proposed)
    await db.execute(
        delete(QueueAgent).where(
            QueueAgent.queue_number == number,
            (QueueAgent.dynamic.is_(False)) | (QueueAgent.extension.in_(agents)),
        )
    )
    db.add_all(
        QueueAgent(queue_number=number, extension=extension, dynamic=False, position=index)
        for index, extension in enumerate(agents)
    )


QUEUES_SERVICE: Key[QueueService] = Key("queues")
