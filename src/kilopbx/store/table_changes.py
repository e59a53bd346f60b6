"""Knowing when data kept in memory is stale, without asking the database.

Call routing keeps the routes, trunks, time conditions, DOD bindings and group
memberships it compiled in memory, and reloads them only after one of their tables
was written. The writes are seen by SQLAlchemy session events, whichever service made
them (and whatever future one will): a flush touching a watched table, or a bulk
INSERT/UPDATE/DELETE on one, marks the session; its commit bumps `generation()` and
calls the `on_change` listeners. A rolled back session bumps nothing. So every change
made through the API applies to the very next call, and a call in between costs no
query. Writes made around the ORM (raw SQL text, another process) are not seen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

WATCHED: set[str] = set(
    {
        "inbound_route",
        "inbound_route_trunk",
        "outbound_route",
        "outbound_route_trunk",
        "outbound_route_extension",
        "outbound_route_group",
        "trunk",
        "trunk_dod",
        "time_condition",
        "extension_group_member",
        "extension",  # a renumbered extension keeps its groups under its new number
    }
)
_DIRTY = "kilopbx.routing_dirty"
_state = {"generation": 0}
_listeners: list[Callable[[], None]] = []


def generation() -> int:
    """Bumped by every committed write to a table the routing rules come from."""
    return _state["generation"]


def invalidate() -> None:
    _state["generation"] += 1
    for listener in list(_listeners):
        listener()


def on_change(listener: Callable[[], None]) -> Callable[[], None]:
    """Call ``listener`` after each such commit (it must only schedule work); returns
    the function that stops it."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


def _table_of(instance: Any) -> str:
    table = getattr(type(instance), "__tablename__", "")
    return table if isinstance(table, str) else ""


def _after_flush(session: Session, _context: UOWTransaction) -> None:
    if session.info.get(_DIRTY):
        return
    for instance in (*session.new, *session.dirty, *session.deleted):
        if _table_of(instance) in WATCHED:
            session.info[_DIRTY] = True
            return


def _on_execute(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", "") in WATCHED:
        state.session.info[_DIRTY] = True


def _after_commit(session: Session) -> None:
    if session.info.pop(_DIRTY, False):
        invalidate()


def _after_rollback(session: Session) -> None:
    session.info.pop(_DIRTY, None)


def watch(tables: frozenset[str] = frozenset()) -> None:
    """Listen to every session's writes (once per process); ``tables`` are watched
    too, beside the routing tables."""
    WATCHED.update(tables)
    if event.contains(Session, "after_commit", _after_commit):
        return
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "do_orm_execute", _on_execute)
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_rollback", _after_rollback)
