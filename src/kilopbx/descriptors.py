"""File descriptors: the process's limit, and how it is shared between the listeners.

A connection costs one descriptor, and a process that runs out of them fails everywhere
at once: accept() on every port, the database, event delivery ("Too many open files").
So the soft ``RLIMIT_NOFILE`` is raised to the hard limit at start, a reserve is kept
for everything that is not a client connection, and each listener gets a fixed budget
that its own limits never exceed. A flood of one kind then evicts its own kind.
"""

from __future__ import annotations

import logging
import resource
from dataclasses import dataclass

log = logging.getLogger(__name__)

# epoll has no FD_SETSIZE: the only reason to stop below the hard limit is memory
# the kernel reserves per descriptor table, irrelevant at this size
MAX_OPEN_FILES = 1 << 20
# the database, logs, media worker pipes, event delivery, listening sockets, DNS
MIN_RESERVE = 256
MIN_SHARE = 16


@dataclass(frozen=True, slots=True)
class DescriptorBudget:
    open_files: int
    api_connections: int
    sip_tcp_connections: int


def raise_open_files_limit() -> int:
    """Lift the soft limit to the hard one (bounded); returns the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = MAX_OPEN_FILES if hard == resource.RLIM_INFINITY else min(hard, MAX_OPEN_FILES)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (OSError, ValueError) as exc:
            log.warning("cannot raise the open files limit from %d to %d: %s", soft, target, exc)
    return open_files_limit() if soft == resource.RLIM_INFINITY else soft


def open_files_limit() -> int:
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return MAX_OPEN_FILES if soft == resource.RLIM_INFINITY else soft


def descriptor_budget(open_files: int, *, api_wanted: int, sip_tcp_wanted: int) -> DescriptorBudget:
    """What each listener may hold: what its settings ask for, scaled down together when
    the limit cannot cover it (SIP keeps two thirds: phones live on it)."""
    reserve = max(MIN_RESERVE, open_files // 8)
    usable = max(open_files - reserve, 2 * MIN_SHARE)
    if api_wanted + sip_tcp_wanted <= usable:
        return DescriptorBudget(open_files, api_wanted, sip_tcp_wanted)
    sip_share = max(MIN_SHARE, min(sip_tcp_wanted, usable * 2 // 3))
    api_share = max(MIN_SHARE, min(api_wanted, usable - sip_share))
    return DescriptorBudget(open_files, api_share, sip_share)
