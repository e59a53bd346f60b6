"""Ring group tables: the group and its member extensions in ring order."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kilopbx.store.base import Base


class RingGroup(Base):
    __tablename__ = "ring_group"
    number: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    strategy: Mapped[str] = mapped_column(String(16), default="ringall")
    ring_timeout: Mapped[int] = mapped_column(Integer, default=30)
    failover_type: Mapped[str] = mapped_column(String(16), default="hangup")
    failover_dest: Mapped[str] = mapped_column(String(64), default="")


class RingGroupMember(Base):
    __tablename__ = "ring_group_member"
    group_number: Mapped[str] = mapped_column(
        String(16), ForeignKey("ring_group.number", ondelete="CASCADE"), primary_key=True
    )
    extension: Mapped[str] = mapped_column(String(16), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
