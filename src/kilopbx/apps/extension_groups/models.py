"""Extension groups and their members (members point at extension rows, so renumbering
an extension keeps its memberships and deleting it drops them)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kilopbx.store.base import Base


class ExtensionGroup(Base):
    __tablename__ = "extension_group"
    # ids are never reused after a deletion (spec 22, Proposed)
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)


class ExtensionGroupMember(Base):
    __tablename__ = "extension_group_member"

    group_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("extension_group.id", ondelete="CASCADE"), primary_key=True
    )
    extension_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("extension.id", ondelete="CASCADE"), primary_key=True, index=True
    )
