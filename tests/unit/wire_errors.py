"""Unit tests call services and validation directly, which refuse with a DomainError;
they assert the errno that refusal answers on the wire, mapped as the API edge maps it."""

from __future__ import annotations

import importlib

from kilopbx.api.reasons import errno_for
from kilopbx.core.errors import DomainError
from kilopbx.features import FEATURES

for _name in FEATURES:
    importlib.import_module(_name)  # each feature's endpoints register their errno table


def wire_errno(refused: DomainError) -> str:
    errno = errno_for(refused.reason)
    assert errno is not None, f"reason {refused.reason!r} has no errno"
    return errno
