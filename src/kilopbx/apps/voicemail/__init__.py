"""Voicemail: leaving messages (a call application) and listing them (voicemail/query)."""
