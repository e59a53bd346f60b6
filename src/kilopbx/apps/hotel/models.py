"""Wake-up call table: one row per alarm of one extension."""

from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kilopbx.store.base import Base

SYSTEM_PROMPT = "macroform-cold_day"


class WakeupCall(Base):
    __tablename__ = "wakeup_call"
    # AUTOINCREMENT: ids are never reused, even after the newest alarm is deleted
    __table_args__ = ({"sqlite_autoincrement": True},)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    extension: Mapped[str] = mapped_column(String(16), index=True)
    minute_of_day: Mapped[int] = mapped_column(Integer)  # 0..1439, local wall-clock time
    kind: Mapped[str] = mapped_column(String(16))  # onetime, everyday, custom
    weekdays: Mapped[str] = mapped_column(String(16), default="")  # "1,3,5", 0 = Sunday
    repeats: Mapped[int] = mapped_column(Integer, default=1)
    repeat_interval: Mapped[int] = mapped_column(Integer, default=5)  # minutes
    prompt: Mapped[str] = mapped_column(String(64), default=SYSTEM_PROMPT)
