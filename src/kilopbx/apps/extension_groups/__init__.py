"""Extension groups: named sets of extensions (spec 22-extension-groups.md)."""
