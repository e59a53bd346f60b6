from __future__ import annotations

import pytest

from kilopbx.engine.dtmf_relay import INBAND, INFO, RFC4733, conversion


@pytest.mark.parametrize(
    ("source", "other_has_events", "expected"),
    [
        (RFC4733, True, None),  # the worker relays the events itself
        (RFC4733, False, INFO),
        (INFO, True, RFC4733),
        (INFO, False, INFO),
        (INBAND, True, RFC4733),
        (INBAND, False, None),  # the tones cross in the audio
    ],
)
def test_each_key_reaches_the_other_phone_once(
    source: str, other_has_events: bool, expected: str | None
) -> None:
    assert conversion(source, other_has_events) == expected
