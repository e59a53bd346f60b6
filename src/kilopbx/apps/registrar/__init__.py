"""The SIP registrar: digest-authenticated REGISTER, bindings, expiry, qualify, status."""
