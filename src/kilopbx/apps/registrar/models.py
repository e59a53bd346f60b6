"""Stored registrations (location table): one row per binding."""

from __future__ import annotations

from sqlalchemy import Boolean, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kilopbx.store.base import Base


class RegistrarBinding(Base):
    __tablename__ = "registrar_binding"

    number: Mapped[str] = mapped_column(String(16), primary_key=True)
    contact: Mapped[str] = mapped_column(String(512), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(255))
    cseq: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
    transport: Mapped[str] = mapped_column(String(8))
    host: Mapped[str] = mapped_column(String(64))
    port: Mapped[int] = mapped_column(Integer)
    user_agent: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[float] = mapped_column(Float)
    reachable: Mapped[bool] = mapped_column(Boolean)
