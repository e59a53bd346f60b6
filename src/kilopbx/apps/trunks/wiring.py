"""Hooks into the extensions service: deletes and renumbers of extensions reach the
trunk DOD bindings and the outbound-route permissions in the same transaction."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from kilopbx.pbx import Pbx

ExtensionDeleted = Callable[[AsyncSession, str], Awaitable[None]]
ExtensionRenumbered = Callable[[AsyncSession, str, str], Awaitable[None]]
EXTENSIONS_SERVICE_MODULE = "kilopbx.apps.extensions.service"


def _extensions_service(pbx: Pbx) -> Any:
    try:
        module = importlib.import_module(EXTENSIONS_SERVICE_MODULE)
    except ImportError:
        return None
    factory = getattr(module, "extension_service", None)
    return factory(pbx) if callable(factory) else None


def watch_extensions(pbx: Pbx, deleted: ExtensionDeleted, renumbered: ExtensionRenumbered) -> bool:
    """Register the callbacks; False when there is no extensions service to watch."""
    service = _extensions_service(pbx)
    if service is None or not callable(getattr(service, "on_extension_deleted", None)):
        return False
    service.on_extension_deleted(deleted)
    if callable(getattr(service, "on_extension_renumbered", None)):
        service.on_extension_renumbered(renumbered)
    return True
