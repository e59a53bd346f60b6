"""What a fresh install ships with: a few extensions an administrator can use at once.

Created on the first start only; the flag in `system_setting` makes sure an administrator
who deleted them does not see them come back after a restart.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from kilopbx.apps.extensions.passwords import SIP_PASSWORD_MIN, generate_password

if TYPE_CHECKING:
    from kilopbx.apps.extensions.service import ExtensionService
    from kilopbx.engine.host import Host

log = logging.getLogger(__name__)

DEFAULTS_FLAG = "extensions.defaults_created"
DEFAULT_NUMBERS = ("1000", "1001", "1002", "1003")


async def create_default_extensions(pbx: Host, service: ExtensionService) -> None:
    if await pbx.settings_repo.get(DEFAULTS_FLAG) is not None:
        return
    if await service.count() == 0:
        for number in DEFAULT_NUMBERS:
            name = f"Extension {number}"
            password = generate_password(SIP_PASSWORD_MIN, number=number, username=name)
            changes = {"display_name": name, "auth_name": number, "sip_password": password}
            await service.add(number, changes, login_password=None)
        log.info("created default extensions %s", ", ".join(DEFAULT_NUMBERS))
    await pbx.settings_repo.set(DEFAULTS_FLAG, "1")
