"""CDR: call detail records and the calls in progress they are made from after a crash.

Revision ID: 0006_cdr
Revises: 0001_foundation
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_cdr"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cdr",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(32), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("answered_at", sa.Float(), nullable=True),
        sa.Column("ended_at", sa.Float(), nullable=False),
        sa.Column("caller", sa.String(64), nullable=False),
        sa.Column("callee", sa.String(64), nullable=False),
        sa.Column("disposition", sa.String(16), nullable=False),
        sa.Column("call_type", sa.String(16), nullable=False),
        sa.Column("source_trunk", sa.String(64), nullable=False),
        sa.Column("destination_trunk", sa.String(64), nullable=False),
        sa.Column("pin_code", sa.String(32), nullable=False),
        sa.Column("recording", sa.String(255), nullable=False),
        sa.Column("did_number", sa.String(64), nullable=False),
        sa.Column("queue_wait_seconds", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_cdr"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_cdr_call_id", "cdr", ["call_id"])
    op.create_index("ix_cdr_started_at", "cdr", ["started_at"])
    op.create_table(
        "cdr_open_call",
        sa.Column("call_id", sa.String(32), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("answered_at", sa.Float(), nullable=True),
        sa.Column("seen_at", sa.Float(), nullable=False),
        sa.Column("caller", sa.String(64), nullable=False),
        sa.Column("callee", sa.String(64), nullable=False),
        sa.Column("call_type", sa.String(16), nullable=False),
        sa.Column("source_trunk", sa.String(64), nullable=False),
        sa.Column("destination_trunk", sa.String(64), nullable=False),
        sa.Column("pin_code", sa.String(32), nullable=False),
        sa.Column("recording", sa.String(255), nullable=False),
        sa.Column("did_number", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("call_id", name="pk_cdr_open_call"),
    )


def downgrade() -> None:
    op.drop_table("cdr_open_call")
    op.drop_index("ix_cdr_started_at", table_name="cdr")
    op.drop_index("ix_cdr_call_id", table_name="cdr")
    op.drop_table("cdr")
