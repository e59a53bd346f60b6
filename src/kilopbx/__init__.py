"""KiloPBX: an open-source IP PBX with an API 2.0 compatible HTTP JSON API."""

from kilopbx import compiled as _compiled  # first: decides compiled or source modules

__version__ = "0.1.0"
__all__ = ["__version__"]
BUILD = _compiled.BUILD
