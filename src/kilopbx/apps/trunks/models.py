"""Tables of SIP trunks and their direct-outward-dialling (DOD) bindings."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kilopbx.store.base import Base

DEFAULT_CODECS = "ulaw,alaw,g722,g729"


class Trunk(Base):
    __tablename__ = "trunk"
    # AUTOINCREMENT: a deleted trunk's id is never handed out again
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # register | peer | account
    host: Mapped[str] = mapped_column(String(255), default="")
    port: Mapped[int] = mapped_column(Integer, default=5060)
    domain: Mapped[str] = mapped_column(String(255), default="")
    username: Mapped[str] = mapped_column(String(64), default="")
    auth_name: Mapped[str] = mapped_column(String(64), default="")
    password: Mapped[str] = mapped_column(String(64), default="")
    from_user: Mapped[str] = mapped_column(String(64), default="")
    did_setting: Mapped[str] = mapped_column(Text, default="")
    # KiloPBX settings the wire format does not carry (30-trunks.md, last section)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    transport: Mapped[str] = mapped_column(String(8), default="udp")
    outbound_proxy: Mapped[str] = mapped_column(String(262), default="")
    codecs: Mapped[str] = mapped_column(String(255), default=DEFAULT_CODECS)
    caller_id_number: Mapped[str] = mapped_column(String(32), default="")
    caller_id_name: Mapped[str] = mapped_column(String(63), default="")
    max_channels: Mapped[int] = mapped_column(Integer, default=0)  # 0: unlimited
    dtmf_mode: Mapped[str] = mapped_column(String(16), default="rfc4733")
    qualify_seconds: Mapped[int] = mapped_column(Integer, default=60)  # 0: no probing
    register_expiry_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    # caller identity headers sent with the From: "pai,rpid", "pai", "rpid" or ""
    identity_headers: Mapped[str] = mapped_column(String(16), default="pai,rpid")
    # "control inbound call answering": inbound calls wait for the application's decision
    inbound_control: Mapped[bool] = mapped_column(Boolean, default=False)

    dod_bindings: Mapped[list[TrunkDod]] = relationship(
        order_by="TrunkDod.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="selectin",
    )

    def __repr__(self) -> str:  # never shows the password
        return f"Trunk(id={self.id!r}, name={self.name!r}, kind={self.kind!r})"


class TrunkDod(Base):
    """One DOD binding: calls through this trunk from the extension `target` (kind
    "extension") or from members of the extension group `group_id` (kind "group") present
    `number` / `name` as the caller."""

    __tablename__ = "trunk_dod"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trunk_id: Mapped[int] = mapped_column(ForeignKey("trunk.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    target_kind: Mapped[str] = mapped_column(String(16))  # extension | group
    target: Mapped[str] = mapped_column(String(63), index=True, default="")
    # extension groups live in another migration branch: no foreign key (see service)
    group_id: Mapped[int | None] = mapped_column(Integer, index=True, default=None)
    number: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(31))
