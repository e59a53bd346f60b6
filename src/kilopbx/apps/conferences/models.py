"""Conference room tables: room settings and its moderator extensions."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kilopbx.store.base import Base


class ConferenceRoom(Base):
    __tablename__ = "conference_room"
    number: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    participant_pin: Mapped[str] = mapped_column(String(16), default="")
    moderator_pin: Mapped[str] = mapped_column(String(16), default="")
    wait_for_moderator: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_invite: Mapped[bool] = mapped_column(Boolean, default=False)
    music_on_hold: Mapped[bool] = mapped_column(Boolean, default=True)
    mute_on_entry: Mapped[bool] = mapped_column(Boolean, default=False)
    announcement: Mapped[str] = mapped_column(String(16), default="default")


class ConferenceModerator(Base):
    __tablename__ = "conference_moderator"
    room_number: Mapped[str] = mapped_column(
        String(16), ForeignKey("conference_room.number", ondelete="CASCADE"), primary_key=True
    )
    extension: Mapped[str] = mapped_column(String(16), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
