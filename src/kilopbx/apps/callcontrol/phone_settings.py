"""Feature codes dialled from a phone, applied to its extension (``PHONE_SETTINGS``):
forwarding always, busy, no answer on and off, do not disturb on and off. Changes go
through the extension service, so ``extension/query`` shows them at once and the
usual ``ConfigChange`` event follows."""

from __future__ import annotations

from typing import Any

from kilopbx.apps.extensions.models import FORWARD_EXTENSION
from kilopbx.apps.extensions.service import ExtensionService
from kilopbx.core.errors import DomainError
from kilopbx.engine.feature_codes import NO_SUCH_TARGET, SettingCode


class ExtensionPhoneSettings:
    def __init__(self, extensions: ExtensionService) -> None:
        self.extensions = extensions

    async def apply(self, extension: str, code: SettingCode) -> None:
        if code.setting == "dnd":
            changes: dict[str, Any] = {"do_not_disturb": code.on}
        else:
            changes = {f"{code.setting}_forward": code.on}
            if code.target:
                if code.target == extension or self.extensions.get(code.target) is None:
                    raise DomainError(NO_SUCH_TARGET, f"no extension {code.target} to forward to")
                changes[f"{code.setting}_forward_to"] = FORWARD_EXTENSION
                changes[f"{code.setting}_forward_extension"] = code.target
        await self.extensions.update(extension, changes, None)
