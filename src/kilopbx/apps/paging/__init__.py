"""Paging, intercom and multicast groups: configuration (spec 51-paging.md)."""
