"""Call recordings: which calls are recorded, their files, and their downloads."""
