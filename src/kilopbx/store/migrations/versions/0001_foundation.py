"""Foundation: system settings, API sessions, blocked IPs, event outbox.

Revision ID: 0001_foundation
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "system_setting",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.create_table(
        "api_session",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("refresh_token", sa.String(32), nullable=False),
        sa.Column("client_ip", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(512), nullable=False),
        sa.Column("urltag", sa.String(1), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("last_activity", sa.Float(), nullable=False),
        sa.Column("expired_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_api_session_token", "api_session", ["token"], unique=True)
    op.create_index("ix_api_session_refresh_token", "api_session", ["refresh_token"], unique=True)
    op.create_table(
        "blocked_ip",
        sa.Column("ip", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("blocked_until", sa.Float(), nullable=True),
    )
    op.create_table(
        "event_outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_event_outbox_session_id", "event_outbox", ["session_id"])


def downgrade() -> None:
    op.drop_table("event_outbox")
    op.drop_table("blocked_ip")
    op.drop_table("api_session")
    op.drop_table("system_setting")
