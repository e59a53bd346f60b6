"""Extensions: call waiting per extension (a KiloPBX setting; NULL follows the PBX-wide
``[calls] call_waiting``).

Revision ID: 0007_extension_call_waiting
Revises: 0002_extensions
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_extension_call_waiting"
down_revision = "0002_extensions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("extension") as batch:
        batch.add_column(sa.Column("call_waiting", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("extension") as batch:
        batch.drop_column("call_waiting")
