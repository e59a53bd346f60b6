"""Inbound call control: a trunk whose calls wait for the application's accept or
refuse (the API's "control inbound call answering" setting) before they are routed.
Pickup groups: the extensions whose ringing calls a phone of the group answers by *8.

Revision ID: 0009_inbound_control_pickup
Revises: 0008_caller_privacy
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_inbound_control_pickup"
down_revision = "0008_caller_privacy"
branch_labels = None
depends_on = "0003_trunks_routes"


def upgrade() -> None:
    with op.batch_alter_table("trunk") as batch:
        batch.add_column(
            sa.Column("inbound_control", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("extension") as batch:
        batch.add_column(
            sa.Column("pickup_group", sa.String(32), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("extension") as batch:
        batch.drop_column("pickup_group")
    with op.batch_alter_table("trunk") as batch:
        batch.drop_column("inbound_control")
