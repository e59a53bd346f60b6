"""Account trunks: the remote side (another PBX, a gateway) registers to our registrar
with the trunk's username, auth name and password, like a phone.

`sync_accounts` keeps those credentials in the account directory (as trunk accounts:
the registrar and the digest check find them by auth name, call routing never finds
them as extensions, no ExtensionStatus is sent for them); a changed password or a
deleted or disabled trunk drops the registration at once (the registrar follows the
directory). `RegisteredAccounts` reads back where each one registered from: that is
where calls through the trunk go, and while it is there the trunk is `Registered`.
"""

from __future__ import annotations

from kilopbx.apps.trunks.line_config import TrunkConfig
from kilopbx.core.registry import Registry
from kilopbx.engine.directory import AccountDirectory, SipAccount
from kilopbx.engine.routing import REGISTRATIONS
from kilopbx.engine.trunking import TrunkTarget

MAX_REGISTRATIONS = 4  # contacts one account trunk may hold (a pair of gateways, say)


def account_of(config: TrunkConfig) -> SipAccount:
    return SipAccount(
        number=config.username,
        auth_name=config.auth_name or config.username,
        password=config.password,
        max_registrations=MAX_REGISTRATIONS,
        display_name=config.name,
        status_monitored=False,
        trunk=config.name,
    )


def sync_accounts(directory: AccountDirectory, configs: list[TrunkConfig]) -> None:
    wanted = {c.username: account_of(c) for c in configs if c.kind == "account" and c.enabled}
    for account in directory.trunk_accounts():
        if account.number not in wanted:
            directory.remove_trunk_account(account.number)
    for account in wanted.values():
        directory.put_trunk_account(account)


class RegisteredAccounts:
    """Where account trunks registered from, read from the registrar when asked (it
    starts after the trunks, which fill the directory it reloads its bindings against)."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def account_contacts(self, username: str) -> list[TrunkTarget]:
        registrations = self._registry.find(REGISTRATIONS)
        if registrations is None:
            return []
        return [
            TrunkTarget(c.host, c.port, c.transport) for c in registrations.contacts_for(username)
        ]
