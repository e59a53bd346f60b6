"""Importing this module registers every API endpoint with the router."""

from kilopbx.api import auth_endpoints, system_endpoints  # noqa: F401
