"""Inbound and outbound call routes (spec 31-routes.md) and their KiloPBX extensions."""
