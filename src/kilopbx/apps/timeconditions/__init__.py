"""Business hours (time conditions) that inbound routes use to pick a destination."""
