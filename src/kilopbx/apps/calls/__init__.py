"""Calls as the API shows them: call/query, call/hangup, extension/query_call."""
