"""Queue tables: settings and agents (static agents in order; dynamic logins later)."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kilopbx.store.base import Base


class Queue(Base):
    __tablename__ = "call_queue"
    number: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    agent_password: Mapped[str] = mapped_column(String(128), default="")
    ring_strategy: Mapped[str] = mapped_column(String(16), default="ringall")
    failover_type: Mapped[str] = mapped_column(String(16), default="hangup")
    failover_dest: Mapped[str] = mapped_column(String(64), default="")
    agent_timeout: Mapped[int] = mapped_column(Integer, default=30)
    agent_announce: Mapped[str] = mapped_column(String(128), default="")
    wrapup_time: Mapped[int] = mapped_column(Integer, default=10)
    ring_in_use: Mapped[bool] = mapped_column(Boolean, default=False)
    retry: Mapped[int] = mapped_column(Integer, default=10)
    music_on_hold: Mapped[str] = mapped_column(String(64), default="default")
    max_wait_time: Mapped[int] = mapped_column(Integer, default=600)
    join_when_empty: Mapped[bool] = mapped_column(Boolean, default=True)
    leave_when_empty: Mapped[bool] = mapped_column(Boolean, default=False)
    # condition codes (1 no agent online, 2 all paused, 3 all in use) as "1,2"
    empty_conditions_join: Mapped[str] = mapped_column(String(16), default="1,2")
    empty_conditions_leave: Mapped[str] = mapped_column(String(16), default="1,2")
    join_announce: Mapped[str] = mapped_column(String(128), default="")
    announce_position: Mapped[bool] = mapped_column(Boolean, default=False)
    announce_frequency: Mapped[int] = mapped_column(Integer, default=0)
    announce_hold_time: Mapped[bool] = mapped_column(Boolean, default=False)
    user_announce: Mapped[str] = mapped_column(String(128), default="")
    user_announce_frequency: Mapped[int] = mapped_column(Integer, default=0)
    breakout_key: Mapped[str] = mapped_column(String(4), default="None")
    breakout_type: Mapped[str] = mapped_column(String(16), default="hangup")
    breakout_dest: Mapped[str] = mapped_column(String(64), default="")
    id_announcement: Mapped[str] = mapped_column(String(128), default="")
    satisfaction_survey: Mapped[str] = mapped_column(String(128), default="")


class QueueAgent(Base):
    """An extension serving a queue: static (configured, in `position` order) or dynamic
    (logged in; `position` is the login order)."""

    __tablename__ = "call_queue_agent"
    queue_number: Mapped[str] = mapped_column(
        String(16), ForeignKey("call_queue.number", ondelete="CASCADE"), primary_key=True
    )
    extension: Mapped[str] = mapped_column(String(16), primary_key=True, index=True)
    dynamic: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
