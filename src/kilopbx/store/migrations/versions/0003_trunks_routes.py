"""Trunks, DOD bindings, time conditions, inbound and outbound routes.

Revision ID: 0003_trunks_routes
Revises: 0001_foundation
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_trunks_routes"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def _link_table(name: str, route_table: str) -> None:
    op.create_table(
        name,
        sa.Column(
            "route_id",
            sa.Integer(),
            sa.ForeignKey(f"{route_table}.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "trunk_id",
            sa.Integer(),
            sa.ForeignKey("trunk.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
    )
    op.create_index(f"ix_{name}_trunk_id", name, ["trunk_id"])


def upgrade() -> None:
    op.create_table(
        "trunk",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(63), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(255), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("auth_name", sa.String(64), nullable=False),
        sa.Column("password", sa.String(64), nullable=False),
        sa.Column("from_user", sa.String(64), nullable=False),
        sa.Column("did_setting", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("transport", sa.String(8), nullable=False),
        sa.Column("outbound_proxy", sa.String(262), nullable=False),
        sa.Column("codecs", sa.String(255), nullable=False),
        sa.Column("caller_id_number", sa.String(32), nullable=False),
        sa.Column("caller_id_name", sa.String(63), nullable=False),
        sa.Column("max_channels", sa.Integer(), nullable=False),
        sa.Column("dtmf_mode", sa.String(16), nullable=False),
        sa.Column("qualify_seconds", sa.Integer(), nullable=False),
        sa.Column("register_expiry_seconds", sa.Integer(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "trunk_dod",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "trunk_id", sa.Integer(), sa.ForeignKey("trunk.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("target_kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(63), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("name", sa.String(31), nullable=False),
    )
    op.create_index("ix_trunk_dod_trunk_id", "trunk_dod", ["trunk_id"])
    op.create_index("ix_trunk_dod_target", "trunk_dod", ["target"])
    op.create_index("ix_trunk_dod_group_id", "trunk_dod", ["group_id"])
    op.create_table(
        "time_condition",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(63), nullable=False, unique=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("weekly", sa.Text(), nullable=False),
        sa.Column("exceptions", sa.Text(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "inbound_route",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(63), nullable=False, unique=True),
        sa.Column("did_pattern", sa.String(64), nullable=False),
        sa.Column("caller_pattern", sa.String(64), nullable=False),
        sa.Column("dest_type", sa.String(16), nullable=False),
        sa.Column("dest", sa.String(63), nullable=False),
        sa.Column(
            "time_condition_id",
            sa.Integer(),
            sa.ForeignKey("time_condition.id", ondelete="RESTRICT"),
            nullable=True,
        ),
        sa.Column("off_hours_dest_type", sa.String(16), nullable=False),
        sa.Column("off_hours_dest", sa.String(63), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_inbound_route_position", "inbound_route", ["position"])
    _link_table("inbound_route_trunk", "inbound_route")
    op.create_table(
        "outbound_route",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(63), nullable=False, unique=True),
        sa.Column("prefix", sa.String(64), nullable=False),
        sa.Column("strip", sa.Integer(), nullable=True),
        sa.Column("prepend", sa.String(32), nullable=False),
        sa.Column("all_extensions", sa.Boolean(), nullable=False),
        sa.Column("caller_pattern", sa.String(64), nullable=False),
        sa.Column("caller_id_number", sa.String(32), nullable=False),
        sa.Column("caller_id_name", sa.String(63), nullable=False),
        sa.Column("pin", sa.String(16), nullable=False),
        sa.Column("record", sa.Boolean(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_outbound_route_position", "outbound_route", ["position"])
    _link_table("outbound_route_trunk", "outbound_route")
    # extension groups belong to another migration branch: referenced without a foreign
    # key; the extension-group service's delete hook removes these rows
    for name, column, column_type in (
        ("outbound_route_extension", "number", sa.String(32)),
        ("outbound_route_group", "group_id", sa.Integer()),
    ):
        op.create_table(
            name,
            sa.Column(
                "route_id",
                sa.Integer(),
                sa.ForeignKey("outbound_route.id", ondelete="CASCADE"),
                primary_key=True,
            ),
            sa.Column(column, column_type, primary_key=True),
            sa.Column("position", sa.Integer(), nullable=False),
        )
        op.create_index(f"ix_{name}_{column}", name, [column])


def downgrade() -> None:
    for table in (
        "outbound_route_group",
        "outbound_route_extension",
        "outbound_route_trunk",
        "outbound_route",
        "inbound_route_trunk",
        "inbound_route",
        "time_condition",
        "trunk_dod",
        "trunk",
    ):
        op.drop_table(table)
