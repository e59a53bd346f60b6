"""Hotel wake-up calls: stored alarms (spec 61-hotel.md)."""
