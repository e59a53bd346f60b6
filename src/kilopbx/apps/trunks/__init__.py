"""SIP trunks (spec 30-trunks.md) and their KiloPBX settings (codecs, transport, ...)."""
