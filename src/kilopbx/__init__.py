"""KiloPBX: an open-source IP PBX with an API 2.0 compatible HTTP JSON API."""

__version__ = "0.1.0"
