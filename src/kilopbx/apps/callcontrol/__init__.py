"""Call control through the API: hold, unhold, mute, unmute (spec 70 §4)."""
