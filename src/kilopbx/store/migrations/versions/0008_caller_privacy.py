"""Caller ID presentation: an extension may hide its number on outside calls, and a
trunk says which identity headers (P-Asserted-Identity, Remote-Party-ID) it sends.

Revision ID: 0008_caller_privacy
Revises: 0007_extension_call_waiting
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_caller_privacy"
down_revision = "0007_extension_call_waiting"
branch_labels = None
depends_on = "0003_trunks_routes"


def upgrade() -> None:
    with op.batch_alter_table("extension") as batch:
        batch.add_column(
            sa.Column("hide_number", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("trunk") as batch:
        batch.add_column(
            sa.Column("identity_headers", sa.String(16), nullable=False, server_default="pai,rpid")
        )


def downgrade() -> None:
    with op.batch_alter_table("trunk") as batch:
        batch.drop_column("identity_headers")
    with op.batch_alter_table("extension") as batch:
        batch.drop_column("hide_number")
