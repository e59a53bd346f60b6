"""Business hours: a weekly schedule plus dated exceptions (holidays, special hours)."""

from __future__ import annotations

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kilopbx.store.base import Base


class TimeCondition(Base):
    __tablename__ = "time_condition"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    # IANA zone name; "" means the PBX's local time
    timezone: Mapped[str] = mapped_column(String(64), default="")
    # canonical text forms, parsed by kilopbx.apps.timeconditions.schedule
    weekly: Mapped[str] = mapped_column(Text, default="")
    exceptions: Mapped[str] = mapped_column(Text, default="")
