"""Alembic environment: KiloPBX always hands in an open connection (see store/database.py)."""

from __future__ import annotations

from alembic import context

from kilopbx.store.base import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through kilopbx.store.database.migrate()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite needs table rebuilds for most ALTERs
)
with context.begin_transaction():
    context.run_migrations()
