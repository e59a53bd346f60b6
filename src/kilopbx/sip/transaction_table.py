"""Matching incoming messages to live transactions (§17.1.3, §17.2.3, §9.2).

The table stores whatever its owner wants per transaction (the stack stores
handles that wrap a machine with its timers), as long as it exposes the key.
"""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar

from kilopbx.sip.message import SipRequest, SipResponse
from kilopbx.sip.transaction_keys import ClientKey, ServerKey, cancel_target_key, client_key

# An ACK for a 2xx is a transaction of its own (new branch); it meets the INVITE
# server transaction that sent the 2xx through Call-ID, CSeq number and From tag.
AckKey = tuple[str, int, str | None]


class HasClientKey(Protocol):
    @property
    def key(self) -> ClientKey: ...


class HasServerKey(Protocol):
    @property
    def key(self) -> ServerKey: ...


ClientEntry = TypeVar("ClientEntry", bound=HasClientKey)
ServerEntry = TypeVar("ServerEntry", bound=HasServerKey)


def ack_key(request: SipRequest) -> AckKey:
    """Key tying an INVITE and the ACK for its 2xx together."""
    return (request.call_id, request.cseq[0], request.from_.tag)


class TransactionTable(Generic[ClientEntry, ServerEntry]):
    __slots__ = ("_ack_key_of", "_awaiting_ack", "_clients", "_per_source", "_servers", "_sources")

    def __init__(self) -> None:
        self._clients: dict[ClientKey, ClientEntry] = {}
        self._servers: dict[ServerKey, ServerEntry] = {}
        # Which source host each server transaction came from, and how many each holds,
        # so that one host can be kept from filling the table.
        self._sources: dict[ServerKey, str] = {}
        self._per_source: dict[str, int] = {}
        self._awaiting_ack: dict[AckKey, ServerEntry] = {}
        self._ack_key_of: dict[int, AckKey] = {}  # id(entry) -> its key in _awaiting_ack

    def __len__(self) -> int:
        return len(self._clients) + len(self._servers)

    def all_entries(self) -> list[ClientEntry | ServerEntry]:
        return [*self._clients.values(), *self._servers.values()]

    @property
    def client_count(self) -> int:
        return len(self._clients)

    @property
    def server_count(self) -> int:
        return len(self._servers)

    def server_count_from(self, source_host: str) -> int:
        """Server transactions (or their remnants) started by requests from this host."""
        return self._per_source.get(source_host, 0)

    # --- client side ---

    def add_client(self, entry: ClientEntry) -> None:
        self._clients[entry.key] = entry

    def remove_client(self, entry: ClientEntry) -> None:
        if self._clients.get(entry.key) is entry:
            del self._clients[entry.key]

    def replace_client(self, entry: ClientEntry, replacement: ClientEntry) -> None:
        """Put ``replacement`` (same key) where ``entry`` was, if it still is."""
        if self._clients.get(entry.key) is entry:
            self._clients[entry.key] = replacement

    def match_response(self, response: SipResponse) -> ClientEntry | None:
        """The client transaction a response answers (top-Via branch + CSeq method)."""
        return self._clients.get(client_key(response))

    # --- server side ---

    def add_server(self, entry: ServerEntry, source_host: str = "") -> None:
        key = entry.key
        if key in self._servers:
            self._forget_source(key)
        self._servers[key] = entry
        self._sources[key] = source_host
        self._per_source[source_host] = self._per_source.get(source_host, 0) + 1

    def _forget_source(self, key: ServerKey) -> None:
        host = self._sources.pop(key, None)
        if host is None:
            return
        left = self._per_source[host] - 1
        if left:
            self._per_source[host] = left
        else:
            del self._per_source[host]

    def remove_server(self, entry: ServerEntry) -> None:
        if self._servers.get(entry.key) is entry:
            del self._servers[entry.key]
            self._forget_source(entry.key)
        key = self._ack_key_of.pop(id(entry), None)
        if key is not None and self._awaiting_ack.get(key) is entry:
            del self._awaiting_ack[key]

    def replace_server(self, entry: ServerEntry, replacement: ServerEntry) -> None:
        """Put ``replacement`` (same key) where ``entry`` was, if it still is."""
        if self._servers.get(entry.key) is entry:
            self._servers[entry.key] = replacement
        key = self._ack_key_of.pop(id(entry), None)
        if key is not None and self._awaiting_ack.get(key) is entry:
            self._awaiting_ack[key] = replacement
            self._ack_key_of[id(replacement)] = key

    def find_server(self, key: ServerKey) -> ServerEntry | None:
        """The server transaction with this key (see ``transaction_keys.server_key``)."""
        return self._servers.get(key)

    def match_cancel(self, cancel: SipRequest) -> ServerEntry | None:
        """The INVITE server transaction a CANCEL asks to stop (§9.2)."""
        return self._servers.get(cancel_target_key(cancel))

    def expect_ack(self, invite: SipRequest, entry: ServerEntry) -> None:
        """Remember that ``entry`` sent a 2xx to ``invite`` and waits for its ACK."""
        key = ack_key(invite)
        self._awaiting_ack[key] = entry
        self._ack_key_of[id(entry)] = key

    def match_ack_for_2xx(self, ack: SipRequest) -> ServerEntry | None:
        """The INVITE server transaction whose 2xx this ACK acknowledges, forgotten after."""
        entry = self._awaiting_ack.pop(ack_key(ack), None)
        if entry is not None:
            self._ack_key_of.pop(id(entry), None)
        return entry
