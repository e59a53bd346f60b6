"""Extensions, extension groups, company contacts.

Revision ID: 0002_extensions
Revises: 0001_foundation
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002_extensions"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def _forwarding(condition: str) -> list[sa.Column[Any]]:
    return [
        sa.Column(f"{condition}_forward", sa.Boolean(), nullable=False),
        sa.Column(f"{condition}_forward_to", sa.String(16), nullable=False),
        sa.Column(f"{condition}_forward_extension", sa.String(7), nullable=False),
        sa.Column(f"{condition}_forward_prefix", sa.String(7), nullable=False),
        sa.Column(f"{condition}_forward_number", sa.String(15), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "extension",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("number", sa.String(7), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("display_name", sa.String(63), nullable=False),
        sa.Column("caller_id", sa.String(31), nullable=False),
        sa.Column("auth_name", sa.String(31), nullable=False),
        sa.Column("sip_password", sa.String(63), nullable=False),
        sa.Column("max_registrations", sa.Integer(), nullable=False),
        sa.Column("login_password_md5", sa.String(32), nullable=False),
        sa.Column("email", sa.String(127), nullable=False),
        sa.Column("mobile", sa.String(31), nullable=False),
        sa.Column("language", sa.String(31), nullable=False),
        sa.Column("voicemail_enabled", sa.Boolean(), nullable=False),
        sa.Column("voicemail_pin", sa.String(63), nullable=False),
        sa.Column("voicemail_to_email", sa.String(8), nullable=False),
        *_forwarding("always"),
        *_forwarding("no_answer"),
        *_forwarding("busy"),
        sa.Column("mobility_enabled", sa.Boolean(), nullable=False),
        sa.Column("ring_mobile_simultaneously", sa.Boolean(), nullable=False),
        sa.Column("mobile_prefix", sa.String(7), nullable=False),
        sa.Column("allow_being_monitored", sa.Boolean(), nullable=False),
        sa.Column("monitor_mode", sa.String(16), nullable=False),
        sa.Column("ring_timeout", sa.Integer(), nullable=False),
        sa.Column("max_call_seconds", sa.Integer(), nullable=True),
        sa.Column("do_not_disturb", sa.Boolean(), nullable=False),
        sa.Column("call_restriction", sa.Boolean(), nullable=False),
        sa.Column("agent_id", sa.String(31), nullable=False),
        sa.Column("status_monitored", sa.Boolean(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_extension_number", "extension", ["number"], unique=True)
    op.create_index("ix_extension_auth_name", "extension", ["auth_name"], unique=True)

    op.create_table(
        "extension_group",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(63), nullable=False),
        sa.UniqueConstraint("name", name="uq_extension_group_name"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "extension_group_member",
        sa.Column(
            "group_id",
            sa.Integer(),
            sa.ForeignKey(
                "extension_group.id",
                ondelete="CASCADE",
                name="fk_extension_group_member_group_id_extension_group",
            ),
            primary_key=True,
        ),
        sa.Column(
            "extension_id",
            sa.Integer(),
            sa.ForeignKey(
                "extension.id",
                ondelete="CASCADE",
                name="fk_extension_group_member_extension_id_extension",
            ),
            primary_key=True,
        ),
    )
    op.create_index(
        "ix_extension_group_member_extension_id", "extension_group_member", ["extension_id"]
    )

    op.create_table(
        "company_contact",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("last_name", sa.String(127), nullable=False),
        sa.Column("first_name", sa.String(127), nullable=False),
        sa.Column("company", sa.String(127), nullable=False),
        sa.Column("email", sa.String(127), nullable=False),
        sa.Column("business_number", sa.String(31), nullable=False),
        sa.Column("business_number_2", sa.String(31), nullable=False),
        sa.Column("mobile", sa.String(31), nullable=False),
        sa.Column("mobile_2", sa.String(31), nullable=False),
        sa.Column("home_number", sa.String(31), nullable=False),
        sa.Column("home_number_2", sa.String(31), nullable=False),
        sa.Column("business_fax", sa.String(31), nullable=False),
        sa.Column("home_fax", sa.String(31), nullable=False),
        sa.Column("other_number", sa.String(31), nullable=False),
        sa.Column("zip_code", sa.String(127), nullable=False),
        sa.Column("street", sa.String(127), nullable=False),
        sa.Column("city", sa.String(127), nullable=False),
        sa.Column("state", sa.String(127), nullable=False),
        sa.Column("country", sa.String(127), nullable=False),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("company_contact")
    op.drop_table("extension_group_member")
    op.drop_table("extension_group")
    op.drop_table("extension")
