"""Tables of inbound and outbound routes.

Routes refer to trunks through link rows (trunk id + position), so renaming a trunk
needs no rewrite and deleting one removes it from every route (ON DELETE CASCADE).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kilopbx.apps.timeconditions.models import TimeCondition  # noqa: F401  (FK target)
from kilopbx.apps.trunks.models import Trunk
from kilopbx.store.base import Base

_KEEP_IDS: dict[str, Any] = {"sqlite_autoincrement": True}


class InboundRoute(Base):
    __tablename__ = "inbound_route"
    __table_args__ = (_KEEP_IDS,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    position: Mapped[int] = mapped_column(Integer, index=True)  # evaluation order
    name: Mapped[str] = mapped_column(String(63), unique=True)
    did_pattern: Mapped[str] = mapped_column(String(64), default="")
    caller_pattern: Mapped[str] = mapped_column(String(64), default="")
    dest_type: Mapped[str] = mapped_column(String(16))
    dest: Mapped[str] = mapped_column(String(63), default="")
    # KiloPBX business hours: outside them the call goes to the off-hours destination
    time_condition_id: Mapped[int | None] = mapped_column(
        ForeignKey("time_condition.id", ondelete="RESTRICT"), nullable=True, default=None
    )
    off_hours_dest_type: Mapped[str] = mapped_column(String(16), default="")
    off_hours_dest: Mapped[str] = mapped_column(String(63), default="")

    trunk_links: Mapped[list[InboundRouteTrunk]] = relationship(
        order_by="InboundRouteTrunk.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="selectin",
    )


class InboundRouteTrunk(Base):
    __tablename__ = "inbound_route_trunk"

    route_id: Mapped[int] = mapped_column(
        ForeignKey("inbound_route.id", ondelete="CASCADE"), primary_key=True
    )
    trunk_id: Mapped[int] = mapped_column(
        ForeignKey("trunk.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    trunk: Mapped[Trunk] = relationship(lazy="selectin")


class OutboundRoute(Base):
    __tablename__ = "outbound_route"
    __table_args__ = (_KEEP_IDS,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    position: Mapped[int] = mapped_column(Integer, index=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    prefix: Mapped[str] = mapped_column(String(64))
    strip: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    prepend: Mapped[str] = mapped_column(String(32), default="")
    all_extensions: Mapped[bool] = mapped_column(Boolean, default=False)
    # KiloPBX route options the wire format lacks
    caller_pattern: Mapped[str] = mapped_column(String(64), default="")
    caller_id_number: Mapped[str] = mapped_column(String(32), default="")
    caller_id_name: Mapped[str] = mapped_column(String(63), default="")
    pin: Mapped[str] = mapped_column(String(16), default="")
    record: Mapped[bool] = mapped_column(Boolean, default=False)

    trunk_links: Mapped[list[OutboundRouteTrunk]] = relationship(
        order_by="OutboundRouteTrunk.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="selectin",
    )
    extension_links: Mapped[list[OutboundRouteExtension]] = relationship(
        order_by="OutboundRouteExtension.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="selectin",
    )
    group_links: Mapped[list[OutboundRouteGroup]] = relationship(
        order_by="OutboundRouteGroup.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="selectin",
    )


class OutboundRouteTrunk(Base):
    __tablename__ = "outbound_route_trunk"

    route_id: Mapped[int] = mapped_column(
        ForeignKey("outbound_route.id", ondelete="CASCADE"), primary_key=True
    )
    trunk_id: Mapped[int] = mapped_column(
        ForeignKey("trunk.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    trunk: Mapped[Trunk] = relationship(lazy="selectin")


class OutboundRouteExtension(Base):
    """An extension permitted to dial out through the route."""

    __tablename__ = "outbound_route_extension"

    route_id: Mapped[int] = mapped_column(
        ForeignKey("outbound_route.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)


class OutboundRouteGroup(Base):
    """An extension group whose members may dial out through the route (no foreign key:
    the group table is another migration branch; its delete hook removes these rows)."""

    __tablename__ = "outbound_route_group"

    route_id: Mapped[int] = mapped_column(
        ForeignKey("outbound_route.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[int] = mapped_column(Integer, primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)
