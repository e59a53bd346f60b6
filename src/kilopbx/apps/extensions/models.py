"""The extension table. Python names here; the wire names live in `wire.py`."""

from __future__ import annotations

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kilopbx.store.base import Base

# forwarding destinations (wire: "Voicemail", "Extension", "Mobile Number", "Custom Number")
FORWARD_VOICEMAIL = "voicemail"
FORWARD_EXTENSION = "extension"
FORWARD_MOBILE = "mobile"
FORWARD_CUSTOM = "custom"

# the three forwarding conditions and the column prefix each one uses
FORWARD_CONDITIONS = ("always", "no_answer", "busy")


class Extension(Base):
    __tablename__ = "extension"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(7), unique=True, index=True)
    kind: Mapped[str] = mapped_column(String(8), default="SIP")  # SIP | FXS | IAX
    display_name: Mapped[str] = mapped_column(String(63))
    caller_id: Mapped[str] = mapped_column(String(31))
    auth_name: Mapped[str] = mapped_column(String(31), unique=True, index=True)
    sip_password: Mapped[str] = mapped_column(String(63))
    max_registrations: Mapped[int] = mapped_column(Integer, default=1)
    # the wire only ever shows the MD5 of the user's login password, so that is all we keep
    login_password_md5: Mapped[str] = mapped_column(String(32))
    email: Mapped[str] = mapped_column(String(127), default="")
    mobile: Mapped[str] = mapped_column(String(31), default="")
    language: Mapped[str] = mapped_column(String(31), default="System Default")

    voicemail_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    voicemail_pin: Mapped[str] = mapped_column(String(63))
    voicemail_to_email: Mapped[str] = mapped_column(String(8), default="off")  # off|on|custom

    always_forward: Mapped[bool] = mapped_column(Boolean, default=False)
    always_forward_to: Mapped[str] = mapped_column(String(16), default=FORWARD_VOICEMAIL)
    always_forward_extension: Mapped[str] = mapped_column(String(7), default="")
    always_forward_prefix: Mapped[str] = mapped_column(String(7), default="")
    always_forward_number: Mapped[str] = mapped_column(String(15), default="")

    no_answer_forward: Mapped[bool] = mapped_column(Boolean, default=True)
    no_answer_forward_to: Mapped[str] = mapped_column(String(16), default=FORWARD_VOICEMAIL)
    no_answer_forward_extension: Mapped[str] = mapped_column(String(7), default="")
    no_answer_forward_prefix: Mapped[str] = mapped_column(String(7), default="")
    no_answer_forward_number: Mapped[str] = mapped_column(String(15), default="")

    busy_forward: Mapped[bool] = mapped_column(Boolean, default=True)
    busy_forward_to: Mapped[str] = mapped_column(String(16), default=FORWARD_VOICEMAIL)
    busy_forward_extension: Mapped[str] = mapped_column(String(7), default="")
    busy_forward_prefix: Mapped[str] = mapped_column(String(7), default="")
    busy_forward_number: Mapped[str] = mapped_column(String(15), default="")

    mobility_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    ring_mobile_simultaneously: Mapped[bool] = mapped_column(Boolean, default=False)
    mobile_prefix: Mapped[str] = mapped_column(String(7), default="")
    allow_being_monitored: Mapped[bool] = mapped_column(Boolean, default=False)
    # what this extension may do to others: disabled|extensive|listen|whisper|barge-in
    monitor_mode: Mapped[str] = mapped_column(String(16), default="disabled")
    ring_timeout: Mapped[int] = mapped_column(Integer, default=30)
    # None: follow the PBX-wide limit; 0: unlimited; otherwise seconds
    max_call_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    do_not_disturb: Mapped[bool] = mapped_column(Boolean, default=False)
    call_restriction: Mapped[bool] = mapped_column(Boolean, default=False)
    agent_id: Mapped[str] = mapped_column(String(31), default="")
    # conventions §5: ExtensionStatus events are only sent for monitored extensions
    status_monitored: Mapped[bool] = mapped_column(Boolean, default=True)
    # a KiloPBX setting (docs/api-extensions/extensions.md): None follows the PBX-wide
    # [calls] call_waiting; True rings a talking extension again, False makes it busy
    call_waiting: Mapped[bool | None] = mapped_column(Boolean, nullable=True, default=None)
    # outside calls present no number (RFC 3323 Privacy: id, anonymous From)
    hide_number: Mapped[bool] = mapped_column(Boolean, default=False)
    # a KiloPBX setting: a phone of the group answers its ringing calls by *8 ("": none)
    pickup_group: Mapped[str] = mapped_column(String(32), default="")
