"""Call queues: configuration and static agents (spec 41-queues.md)."""
