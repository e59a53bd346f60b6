"""Registrar: stored SIP registrations (bindings), reloaded at start-up.

Revision ID: 0005_registrar
Revises: 0001_foundation
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_registrar"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registrar_binding",
        sa.Column("number", sa.String(16), nullable=False),
        sa.Column("contact", sa.String(512), nullable=False),
        sa.Column("call_id", sa.String(255), nullable=False),
        sa.Column("cseq", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("transport", sa.String(8), nullable=False),
        sa.Column("host", sa.String(64), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("user_agent", sa.String(255), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("reachable", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("number", "contact", name="pk_registrar_binding"),
    )
    op.create_index("ix_registrar_binding_expires_at", "registrar_binding", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_registrar_binding_expires_at", table_name="registrar_binding")
    op.drop_table("registrar_binding")
