"""Ring groups (a KiloPBX extension of the API), plus the value parsing and destination
vocabulary that every group feature shares."""
