"""Extensions: the SIP accounts people dial and register as (spec 21-extensions.md)."""
