"""Which event format a client's login version asks for (conventions §10.1)."""

from __future__ import annotations


def is_legacy_version(version: str) -> bool:
    """Legacy event formats for absent/1.x versions; anything else means 2.0.0."""
    return version == "" or version.startswith("1.") or version == "1"
