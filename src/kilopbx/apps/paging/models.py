"""Paging group tables: the group, its member extensions and member extension groups."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kilopbx.store.base import Base


class PagingGroup(Base):
    __tablename__ = "paging_group"
    number: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # paging, intercom, multicast
    dial_to_answer: Mapped[bool] = mapped_column(Boolean, default=False)
    # "A.B.C.D:port"; kept when the type changes away from multicast
    multicast_address: Mapped[str] = mapped_column(String(32), default="")


class PagingMember(Base):
    __tablename__ = "paging_member"
    group_number: Mapped[str] = mapped_column(
        String(16), ForeignKey("paging_group.number", ondelete="CASCADE"), primary_key=True
    )
    extension: Mapped[str] = mapped_column(String(16), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class PagingMemberGroup(Base):
    """An extension group whose members are paged. Named on the wire, kept by id here:
    renaming the group keeps the membership, deleting the group ends it."""

    __tablename__ = "paging_member_group"
    group_number: Mapped[str] = mapped_column(
        String(16), ForeignKey("paging_group.number", ondelete="CASCADE"), primary_key=True
    )
    extension_group_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("extension_group.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
