"""Company contacts: the shared directory (spec 20-contacts.md)."""
