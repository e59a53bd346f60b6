"""IVRs (auto attendants): configuration, key-press destinations (spec 40-ivr.md)."""
