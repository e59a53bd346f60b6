"""Group features: IVRs and their keys, queues and agents, conference rooms and
moderators, paging groups and members, ring groups and members, wake-up calls.

Revision ID: 0004_groups
Revises: 0001_foundation
Depends on: 0002_extensions (paging groups name extension groups)
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004_groups"
down_revision = "0001_foundation"
branch_labels = None
depends_on = "0002_extensions"


def _number(name: str = "number") -> sa.Column[Any]:
    return sa.Column(name, sa.String(16), primary_key=True)


def _text(name: str, length: int, default: str = "") -> sa.Column[Any]:
    return sa.Column(name, sa.String(length), nullable=False, server_default=default)


def _int(name: str, default: int) -> sa.Column[Any]:
    return sa.Column(name, sa.Integer(), nullable=False, server_default=str(default))


def _flag(name: str, default: bool) -> sa.Column[Any]:
    return sa.Column(
        name, sa.Boolean(), nullable=False, server_default=sa.false() if not default else sa.true()
    )


def _owner(name: str, table: str) -> sa.Column[Any]:
    return sa.Column(
        name, sa.String(16), sa.ForeignKey(f"{table}.number", ondelete="CASCADE"), primary_key=True
    )


def upgrade() -> None:
    op.create_table(
        "ivr",
        _number(),
        _text("name", 64),
        _text("prompt", 128, "[Default]"),
        _int("prompt_repeat", 2),
        _int("response_timeout", 5),
        _int("digit_timeout", 3),
        _flag("dial_extensions", True),
        _flag("dial_outbound_routes", False),
        _flag("dial_check_voicemail", False),
        sa.Column("selected_routes", sa.Text(), nullable=False, server_default=""),
        _text("timeout_dest_type", 16, "hangup"),
        _text("timeout_dest", 64),
        _text("invalid_dest_type", 16, "hangup"),
        _text("invalid_dest", 64),
    )
    op.create_table(
        "ivr_key",
        _owner("ivr_number", "ivr"),
        sa.Column("key", sa.String(1), primary_key=True),
        _text("dest_type", 16),
        _text("dest", 64),
    )
    op.create_table(
        "call_queue",
        _number(),
        _text("name", 64),
        _text("agent_password", 128),
        _text("ring_strategy", 16, "ringall"),
        _text("failover_type", 16, "hangup"),
        _text("failover_dest", 64),
        _int("agent_timeout", 30),
        _text("agent_announce", 128),
        _int("wrapup_time", 10),
        _flag("ring_in_use", False),
        _int("retry", 10),
        _text("music_on_hold", 64, "default"),
        _int("max_wait_time", 600),
        _flag("join_when_empty", True),
        _flag("leave_when_empty", False),
        _text("empty_conditions_join", 16, "1,2"),
        _text("empty_conditions_leave", 16, "1,2"),
        _text("join_announce", 128),
        _flag("announce_position", False),
        _int("announce_frequency", 0),
        _flag("announce_hold_time", False),
        _text("user_announce", 128),
        _int("user_announce_frequency", 0),
        _text("breakout_key", 4, "None"),
        _text("breakout_type", 16, "hangup"),
        _text("breakout_dest", 64),
        _text("id_announcement", 128),
        _text("satisfaction_survey", 128),
    )
    op.create_table(
        "call_queue_agent",
        _owner("queue_number", "call_queue"),
        sa.Column("extension", sa.String(16), primary_key=True),
        _flag("dynamic", False),
        _int("position", 0),
        _flag("paused", False),
    )
    op.create_index("ix_call_queue_agent_extension", "call_queue_agent", ["extension"])
    op.create_table(
        "conference_room",
        _number(),
        _text("name", 64),
        _text("participant_pin", 16),
        _text("moderator_pin", 16),
        _flag("wait_for_moderator", False),
        _flag("allow_invite", False),
        _flag("music_on_hold", True),
        _flag("mute_on_entry", False),
        _text("announcement", 16, "default"),
    )
    op.create_table(
        "conference_moderator",
        _owner("room_number", "conference_room"),
        sa.Column("extension", sa.String(16), primary_key=True),
        _int("position", 0),
    )
    op.create_index("ix_conference_moderator_extension", "conference_moderator", ["extension"])
    op.create_table(
        "paging_group",
        _number(),
        _text("name", 64),
        _text("kind", 16),
        _flag("dial_to_answer", False),
        _text("multicast_address", 32),
    )
    op.create_table(
        "paging_member",
        _owner("group_number", "paging_group"),
        sa.Column("extension", sa.String(16), primary_key=True),
        _int("position", 0),
    )
    op.create_index("ix_paging_member_extension", "paging_member", ["extension"])
    op.create_table(
        "paging_member_group",
        _owner("group_number", "paging_group"),
        sa.Column(
            "extension_group_id",
            sa.Integer(),
            sa.ForeignKey("extension_group.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        _int("position", 0),
    )
    op.create_table(
        "ring_group",
        _number(),
        _text("name", 64),
        _text("strategy", 16, "ringall"),
        _int("ring_timeout", 30),
        _text("failover_type", 16, "hangup"),
        _text("failover_dest", 64),
    )
    op.create_table(
        "ring_group_member",
        _owner("group_number", "ring_group"),
        sa.Column("extension", sa.String(16), primary_key=True),
        _int("position", 0),
    )
    op.create_index("ix_ring_group_member_extension", "ring_group_member", ["extension"])
    op.create_table(
        "wakeup_call",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _text("extension", 16),
        _int("minute_of_day", 0),
        _text("kind", 16),
        _text("weekdays", 16),
        _int("repeats", 1),
        _int("repeat_interval", 5),
        _text("prompt", 64, "macroform-cold_day"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_wakeup_call_extension", "wakeup_call", ["extension"])


def downgrade() -> None:
    for table in (
        "wakeup_call",
        "ring_group_member",
        "ring_group",
        "paging_member_group",
        "paging_member",
        "paging_group",
        "conference_moderator",
        "conference_room",
        "call_queue_agent",
        "call_queue",
        "ivr_key",
        "ivr",
    ):
        op.drop_table(table)
