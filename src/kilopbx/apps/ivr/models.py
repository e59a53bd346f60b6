"""IVR tables: the menu settings and one row per key-press destination."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kilopbx.store.base import Base

DEFAULT_PROMPT = "[Default]"


class Ivr(Base):
    __tablename__ = "ivr"
    number: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    prompt: Mapped[str] = mapped_column(String(128), default=DEFAULT_PROMPT)
    prompt_repeat: Mapped[int] = mapped_column(Integer, default=2)
    response_timeout: Mapped[int] = mapped_column(Integer, default=5)
    digit_timeout: Mapped[int] = mapped_column(Integer, default=3)
    dial_extensions: Mapped[bool] = mapped_column(Boolean, default=True)
    dial_outbound_routes: Mapped[bool] = mapped_column(Boolean, default=False)
    dial_check_voicemail: Mapped[bool] = mapped_column(Boolean, default=False)
    # comma list of outbound route names usable when dial_outbound_routes is on
    selected_routes: Mapped[str] = mapped_column(Text, default="")
    timeout_dest_type: Mapped[str] = mapped_column(String(16), default="hangup")
    timeout_dest: Mapped[str] = mapped_column(String(64), default="")
    invalid_dest_type: Mapped[str] = mapped_column(String(16), default="hangup")
    invalid_dest: Mapped[str] = mapped_column(String(64), default="")


class IvrKey(Base):
    """Where pressing `key` (0-9, *, #) in the IVR leads."""

    __tablename__ = "ivr_key"
    ivr_number: Mapped[str] = mapped_column(
        String(16), ForeignKey("ivr.number", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(1), primary_key=True)
    dest_type: Mapped[str] = mapped_column(String(16))
    dest: Mapped[str] = mapped_column(String(64), default="")
