"""Conference rooms: configuration (spec 50-conference.md)."""
