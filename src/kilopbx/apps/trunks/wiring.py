"""Hooks into the extension and extension-group services: deleting or renumbering an
extension, or deleting a group, reaches the trunk DOD bindings and the outbound-route
permissions in the same transaction."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from kilopbx.pbx import Pbx

ExtensionsDeleted = Callable[[AsyncSession, list[str]], Awaitable[None]]
ExtensionRenumbered = Callable[[AsyncSession, str, str], Awaitable[None]]
GroupDeleted = Callable[[AsyncSession, int], Awaitable[None]]
EXTENSIONS_SERVICE_MODULE = "kilopbx.apps.extensions.service"
GROUPS_SERVICE_MODULE = "kilopbx.apps.extension_groups.service"


def _service(pbx: Pbx, module_name: str, factory_name: str) -> Any:
    """The per-PBX service of another feature, through its factory function."""
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    factory = getattr(module, factory_name, None)
    return factory(pbx) if callable(factory) else None


def watch_extensions(pbx: Pbx, deleted: ExtensionsDeleted, renumbered: ExtensionRenumbered) -> bool:
    """Register the callbacks (`deleted(db, numbers)` gets batches of deleted numbers);
    False when there is no extensions service to watch."""
    service = _service(pbx, EXTENSIONS_SERVICE_MODULE, "extension_service")
    if service is None or not callable(getattr(service, "on_extensions_deleted", None)):
        return False
    service.on_extensions_deleted(deleted)
    if callable(getattr(service, "on_extension_renumbered", None)):
        service.on_extension_renumbered(renumbered)
    return True


def watch_extension_groups(pbx: Pbx, deleted: GroupDeleted) -> bool:
    """Register `deleted(db, group_id)`; False when there is no group service."""
    service = _service(pbx, GROUPS_SERVICE_MODULE, "extension_group_service")
    if service is None or not callable(getattr(service, "on_group_deleted", None)):
        return False
    service.on_group_deleted(deleted)
    return True
