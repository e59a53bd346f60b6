"""CDR tables: one row per finished call (segment), one row per call in progress.

Times are epoch seconds (floats) and durations are derived from them, so a record can
be rendered in any time zone and format at the edge (`wire.py`, `events/call_events.py`).
"""

from __future__ import annotations

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kilopbx.store.base import Base

NUMBER = 64  # numbers, also `group(extension)` callees
NAME = 64
FILE_NAME = 255


class CallDetailRecord(Base):
    __tablename__ = "cdr"
    # AUTOINCREMENT: ids are never reused, so they order records as they were committed
    __table_args__ = ({"sqlite_autoincrement": True},)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(32), index=True)
    started_at: Mapped[float] = mapped_column(Float, index=True)
    answered_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    ended_at: Mapped[float] = mapped_column(Float)
    caller: Mapped[str] = mapped_column(String(NUMBER))
    callee: Mapped[str] = mapped_column(String(NUMBER))
    disposition: Mapped[str] = mapped_column(String(16))  # CallDisposition value
    call_type: Mapped[str] = mapped_column(String(16))  # CallType value
    source_trunk: Mapped[str] = mapped_column(String(NAME), default="")
    destination_trunk: Mapped[str] = mapped_column(String(NAME), default="")
    pin_code: Mapped[str] = mapped_column(String(32), default="")
    recording: Mapped[str] = mapped_column(String(FILE_NAME), default="")
    did_number: Mapped[str] = mapped_column(String(NUMBER), default="")
    queue_wait_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)


class OpenCall(Base):
    """A call in progress, written when it starts and when it is answered, deleted with
    the commit of its CDR. What is left at start-up belongs to calls a crash cut off.
    `seen_at` is refreshed while calls are open: it bounds when such a call ended."""

    __tablename__ = "cdr_open_call"
    call_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    started_at: Mapped[float] = mapped_column(Float)
    answered_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    seen_at: Mapped[float] = mapped_column(Float)
    caller: Mapped[str] = mapped_column(String(NUMBER))
    callee: Mapped[str] = mapped_column(String(NUMBER))
    call_type: Mapped[str] = mapped_column(String(16))
    source_trunk: Mapped[str] = mapped_column(String(NAME), default="")
    destination_trunk: Mapped[str] = mapped_column(String(NAME), default="")
    pin_code: Mapped[str] = mapped_column(String(32), default="")
    recording: Mapped[str] = mapped_column(String(FILE_NAME), default="")
    did_number: Mapped[str] = mapped_column(String(NUMBER), default="")
