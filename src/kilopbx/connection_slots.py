"""Book-keeping for connection slots shared by the API listener and SIP over TCP: which
connections each peer address holds, in least-recently-active order, and which address
holds the most.

When a listener is full it evicts instead of refusing the newcomer: the oldest
connection of the heaviest address. A flood from a few addresses then pays for itself
(its own connections go first) while a client with one connection keeps it and a new
client still gets in. Every operation is O(1); no I/O and no clock here.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

Item = TypeVar("Item")  # hashed by identity or value, like any dict key


class ConnectionSlots(Generic[Item]):
    """Items grouped by address; ``touch`` moves an item to the young end."""

    __slots__ = ("_address_of", "_by_address", "_heaviest_count", "_with_count")

    def __init__(self) -> None:
        self._address_of: OrderedDict[Item, str] = OrderedDict()
        self._by_address: dict[str, OrderedDict[Item, None]] = {}
        # count -> addresses holding exactly that many (a dict as an ordered set)
        self._with_count: dict[int, dict[str, None]] = {}
        self._heaviest_count = 0

    def __len__(self) -> int:
        return len(self._address_of)

    def __contains__(self, item: object) -> bool:
        return item in self._address_of

    def count(self, address: str) -> int:
        items = self._by_address.get(address)
        return 0 if items is None else len(items)

    def add(self, address: str, item: Item) -> None:
        if item in self._address_of:
            raise ValueError("item already holds a slot")
        self._address_of[item] = address
        items = self._by_address.setdefault(address, OrderedDict())
        items[item] = None
        self._recount(address, len(items) - 1, len(items))

    def remove(self, item: Item) -> bool:
        """Free the item's slot; False if it held none."""
        address = self._address_of.pop(item, None)
        if address is None:
            return False
        items = self._by_address[address]
        del items[item]
        self._recount(address, len(items) + 1, len(items))
        if not items:
            del self._by_address[address]
        return True

    def touch(self, item: Item) -> None:
        """The item was active just now: it becomes the youngest of its address and overall."""
        address = self._address_of.get(item)
        if address is None:
            return
        self._address_of.move_to_end(item)
        self._by_address[address].move_to_end(item)

    def oldest(self, address: str | None = None) -> Item | None:
        """The least recently active item overall, or of one address."""
        items = self._address_of if address is None else self._by_address.get(address)
        if not items:
            return None
        return next(iter(items))

    def heaviest(self) -> str | None:
        """An address holding the most items (the first to reach that count)."""
        if self._heaviest_count == 0:
            return None
        return next(iter(self._with_count[self._heaviest_count]))

    def eviction_candidate(self) -> Item | None:
        """The oldest item of the heaviest address."""
        address = self.heaviest()
        return None if address is None else self.oldest(address)

    def _recount(self, address: str, old: int, new: int) -> None:
        if old:
            holders = self._with_count[old]
            del holders[address]
            if not holders:
                del self._with_count[old]
        if new:
            self._with_count.setdefault(new, {})[address] = None
        if new > self._heaviest_count:
            self._heaviest_count = new
        elif old == self._heaviest_count and old not in self._with_count:
            self._heaviest_count = new  # counts move by one: new is the next maximum
