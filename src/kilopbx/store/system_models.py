"""Tables of the service core: settings, API sessions, blocked IPs, the event outbox."""

from __future__ import annotations

from sqlalchemy import Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kilopbx.store.base import Base


class SystemSetting(Base):
    """Key/value settings the PBX generates or the administrator changes at run time."""

    __tablename__ = "system_setting"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ApiSession(Base):
    __tablename__ = "api_session"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    refresh_token: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    client_ip: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer, default=8260)
    url: Mapped[str] = mapped_column(String(512), default="")
    urltag: Mapped[str] = mapped_column(String(1), default="0")
    version: Mapped[str] = mapped_column(String(32), default="1.0.0")
    created_at: Mapped[float] = mapped_column(Float)
    last_activity: Mapped[float] = mapped_column(Float)
    # set when the session ended by expiry, so 20006 can be told apart from 20004 for 24 h
    expired_at: Mapped[float | None] = mapped_column(Float, nullable=True, default=None)


class BlockedIp(Base):
    """Failed API logins per source IP and the resulting lockout (type tag API-IP)."""

    __tablename__ = "blocked_ip"
    ip: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="API-IP")
    failures: Mapped[int] = mapped_column(Integer, default=0)
    blocked_until: Mapped[float | None] = mapped_column(Float, nullable=True, default=None)


class OutboxEvent(Base):
    """One event waiting for delivery to one session, in id order."""

    __tablename__ = "event_outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(Integer, index=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)
