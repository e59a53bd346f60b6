from __future__ import annotations

import pytest

from kilopbx.engine.dtmf_relay import INBAND, INFO, RFC4733, conversion, tone_source


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


def test_a_key_becomes_its_tone_pair() -> None:
    from kilopbx.media.tones import parse_tone

    assert tone_source("5", 160) == "tone:770+1336/160,60"
    assert tone_source("#", 0) == "tone:941+1477/100,60"  # no duration: 100 ms
    assert tone_source("a", 10) == "tone:697+1633/40,60"  # A-D too; at least 40 ms
    assert tone_source("1", 60_000) == "tone:697+1209/5000,60"  # at most 5 s
    for key in ("x", "", "12", "5\n"):
        assert tone_source(key, 100) is None
    parse_tone(tone_source("*", 100)[5:])  # type: ignore[index]  # the worker takes it
