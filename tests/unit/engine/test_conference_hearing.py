"""Who hears whom in a conference with monitors (``engine/conference_hearing.py``)."""

from __future__ import annotations

import pytest

from kilopbx.engine.conference_hearing import (
    BARGE,
    LISTEN,
    WHISPER,
    Monitoring,
    covers,
    hearing,
)


def test_parties_hear_each_other_never_themselves() -> None:
    heard = hearing(["a", "b", "c", "d"], {})
    assert heard == {
        "a": ["b", "c", "d"],
        "b": ["a", "c", "d"],
        "c": ["a", "b", "d"],
        "d": ["a", "b", "c"],
    }


def test_listen_hears_both_heard_by_none() -> None:
    heard = hearing(["agent", "customer"], {"boss": Monitoring(LISTEN, "agent")})
    assert heard == {"agent": ["customer"], "customer": ["agent"], "boss": ["agent", "customer"]}


def test_whisper_is_heard_by_the_agent_only() -> None:
    heard = hearing(["agent", "customer"], {"boss": Monitoring(WHISPER, "agent")})
    assert heard["agent"] == ["customer", "boss"]
    assert heard["customer"] == ["agent"]
    assert heard["boss"] == ["agent", "customer"]


def test_barge_is_heard_by_every_party() -> None:
    heard = hearing(["agent", "customer"], {"boss": Monitoring(BARGE, "agent")})
    assert heard == {
        "agent": ["customer", "boss"],
        "customer": ["agent", "boss"],
        "boss": ["agent", "customer"],
    }


def test_monitors_hear_a_barging_monitor_but_not_a_listening_one() -> None:
    monitors = {"m1": Monitoring(BARGE, "a"), "m2": Monitoring(LISTEN, "b")}
    heard = hearing(["a", "b"], monitors)
    assert heard["m2"] == ["a", "b", "m1"]
    assert heard["m1"] == ["a", "b"]
    assert "m2" not in heard["a"] + heard["b"] + heard["m1"]


def test_a_whisperer_whose_agent_left_is_heard_by_nobody() -> None:
    heard = hearing(["b", "c"], {"boss": Monitoring(WHISPER, "a")})
    assert heard == {"b": ["c"], "c": ["b"], "boss": ["b", "c"]}


def test_hostile_input_is_refused() -> None:
    with pytest.raises(ValueError):
        hearing(["a", "b"], {"m": Monitoring("spy", "a")})
    with pytest.raises(ValueError):
        hearing(["a", "b"], {"a": Monitoring(LISTEN, "b")})


@pytest.mark.parametrize(
    ("setting", "allowed"),
    [
        ("extensive", {LISTEN, WHISPER, BARGE}),
        ("listen", {LISTEN}),
        ("whisper", {WHISPER}),
        ("barge-in", {BARGE}),
        ("disabled", set()),
        ("", set()),
    ],
)
def test_monitor_mode_settings_cover_their_modes(setting: str, allowed: set[str]) -> None:
    assert {m for m in (LISTEN, WHISPER, BARGE, "spy") if covers(setting, m)} == allowed
