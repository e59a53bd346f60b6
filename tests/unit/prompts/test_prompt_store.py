"""The prompt store, prompt generation (with and without espeak-ng), the catalogue, the
hold music, and the recording policy and files, without a running PBX."""

from __future__ import annotations

import asyncio
import wave
from datetime import datetime
from pathlib import Path

import pytest

from kilopbx.apps.prompts import generate
from kilopbx.apps.prompts.catalog import (
    SYSTEM_PROMPTS,
    date_time_prompts,
    digit_prompts,
    number_prompts,
)
from kilopbx.apps.prompts.holdmusic import render as render_music
from kilopbx.apps.prompts.store import PromptStore, clean_name
from kilopbx.apps.recordings.service import RecordingService
from kilopbx.core.errors import DomainError
from kilopbx.engine.sounds import HOLD_FALLBACK
from kilopbx.media.wav import encode_wav
from tests.media_audio import dominant_frequency, level, tone


def _wav(path: Path, rate: int, channels: int, pcm: bytes) -> bytes:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels), out.setsampwidth(2), out.setframerate(rate)
        out.writeframes(pcm if channels == 1 else b"".join(
            pcm[i : i + 2] * channels for i in range(0, len(pcm), 2)))  # fmt: skip
    return path.read_bytes()


def _read(path: Path) -> tuple[int, int, bytes]:
    with wave.open(str(path)) as wav:
        return wav.getframerate(), wav.getnchannels(), wav.readframes(wav.getnframes())


def test_names() -> None:
    assert clean_name("welcome_main.wav") == clean_name(" welcome_main ") == "welcome_main"
    for bad in ("", "1234", "../x", "a/b", "x" * 65, ".hidden", "a..b", "é"):
        with pytest.raises(DomainError):
            clean_name(bad)


def test_custom_prompts_override_system_ones_and_are_kept_at_both_rates(tmp_path: Path) -> None:
    store = PromptStore(tmp_path)
    store.ensure_dirs()
    assert store.prompt("goodbye") is None and store.hold_music() == HOLD_FALLBACK
    store.install_pcm("goodbye", tone(500, 8000, 300), 8000)
    assert store.prompt("goodbye") == f"file:{store.system}/goodbye.wav"
    data = _wav(tmp_path / "in.wav", 44100, 2, tone(800, 44100, 500))
    assert store.install("goodbye.wav", data) == pytest.approx(0.5, abs=0.01)
    assert store.prompt("goodbye") == f"file:{store.custom}/goodbye.wav"
    for path, rate in (
        (store.custom / "goodbye.wav", 8000),
        (store.custom / "16k/goodbye.wav", 16000),
    ):
        got_rate, channels, pcm = _read(path)
        assert (got_rate, channels) == (rate, 1)
        assert 750 < dominant_frequency(pcm, rate) < 850
    assert store.names(custom=True) == ["goodbye"] and store.seconds("goodbye") == pytest.approx(
        0.5, abs=0.01
    )
    with pytest.raises(DomainError) as bad:
        store.install("x", b"RIFF....WAVEfmt ")
    assert bad.value.reason == "prompts.file_invalid"
    with pytest.raises(DomainError):
        store.install("x", encode_wav(b"", 8000))  # no audio
    assert store.delete("goodbye") and not store.delete("goodbye")
    assert store.prompt("goodbye") == f"file:{store.system}/goodbye.wav"


def test_dropped_files_are_converted_and_bad_ones_left_alone(tmp_path: Path) -> None:
    store = PromptStore(tmp_path)
    store.ensure_dirs()
    _wav(store.custom / "Welcome.WAV", 22050, 2, tone(600, 22050, 200))
    (store.custom / "broken.wav").write_bytes(b"not a wav at all")
    _wav(store.custom / "ready.wav", 8000, 1, tone(600, 8000, 200))
    assert store.normalize_dropped() == ["Welcome", "ready"]
    assert _read(store.custom / "Welcome.wav")[:2] == (8000, 1)
    assert (store.originals / "Welcome.wav").is_file() and not (
        store.custom / "Welcome.WAV"
    ).exists()
    assert (store.custom / "broken.wav").is_file() and store.prompt("broken") is not None
    assert store.normalize_dropped() == []  # once only


def test_generation_with_espeak_and_with_tones_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(generate, "SYSTEM_PROMPTS", {"goodbye": "Goodbye.", "digit-3": "three"})
    monkeypatch.setattr(generate, "espeak", lambda: None)
    store = PromptStore(tmp_path / "a")
    assert generate.generate_missing(store) == 3  # two prompts and the hold music
    _, _, beeps = _read(store.system / "digit-3.wav")
    assert len(beeps) == 3 * 2 * 8000 * 3 // 10  # three beeps of 0.3 s
    assert (store.system / generate.TONE_ONLY).read_text().split() == ["digit-3", "goodbye"]
    assert generate.generate_missing(store) == 0
    if generate.shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    monkeypatch.setattr(generate, "espeak", lambda: generate.shutil.which("espeak-ng"))
    seed = tmp_path / "seed"
    assert generate.generate_missing(store, seed) == 2  # the tone-only ones, spoken now
    rate, _, speech = _read(store.system / "goodbye.wav")
    assert rate == 8000 and len(speech) > 2 * 8000 * 0.3 and level(speech) > 500
    assert not (store.system / generate.TONE_ONLY).exists()
    other = PromptStore(tmp_path / "b")
    other.ensure_dirs()
    assert generate.seed_from(other, seed) == 4  # two prompts at two rates
    assert other.prompt("goodbye") is not None


def test_catalogue_and_read_outs() -> None:
    assert {
        "ivr-menu",
        "ivr-invalid",
        "vm-greeting",
        "goodbye",
        "wakeup-call",
        "queue-welcome",
    } <= SYSTEM_PROMPTS.keys()
    assert all(f"digit-{d}" in SYSTEM_PROMPTS for d in range(10))
    assert number_prompts(0) == ["digit-0"] and number_prompts(15) == ["number-15"]
    assert number_prompts(42) == ["number-40", "digit-2"]
    assert number_prompts(1_203_007) == [
        "digit-1", "number-million", "digit-2", "number-hundred", "digit-3",
        "number-thousand", "digit-7",
    ]  # fmt: skip
    assert all(
        name in SYSTEM_PROMPTS for n in (7, 19, 90, 999, 12_345) for name in number_prompts(n)
    )
    assert digit_prompts("2#0*x") == ["digit-2", "digit-pound", "digit-0", "digit-star"]
    with pytest.raises(ValueError):
        number_prompts(-1)


def test_dates_and_times_are_read_out_on_a_twelve_hour_clock() -> None:
    # a Tuesday
    assert date_time_prompts(datetime(2026, 3, 17, 15, 5)) == [
        "day-1", "month-3", "number-17", "time-at", "digit-3", "time-oh", "digit-5", "time-pm",
    ]  # fmt: skip
    assert date_time_prompts(datetime(2026, 12, 6, 0, 0))[-4:] == [
        "time-at", "number-12", "time-oclock", "time-am",
    ]  # fmt: skip
    assert date_time_prompts(datetime(2026, 1, 31, 12, 42))[2:] == [
        "number-30", "digit-1", "time-at", "number-12", "number-40", "digit-2", "time-pm",
    ]  # fmt: skip
    every_day = [datetime(2026, 2, d, h, m) for d in range(1, 8) for h, m in ((9, 0), (23, 59))]
    every_month = [datetime(2026, m, 28, 11, 11) for m in range(1, 13)]
    assert all(
        name in SYSTEM_PROMPTS for when in every_day + every_month
        for name in date_time_prompts(when)
    )  # fmt: skip


def test_hold_music_is_music_not_a_tone() -> None:
    pcm = render_music()
    assert len(pcm) == 2 * 16000 * 16  # a 16 s loop
    seconds = [pcm[i * 32000 : (i + 1) * 32000] for i in range(16)]
    assert all(level(second) > 500 for second in seconds)  # never silent
    heard = {round(dominant_frequency(s, 16000), -1) for s in seconds}
    assert len(heard) >= 4  # the harmony moves


def test_recording_policy_names_and_files(tmp_path: Path) -> None:
    class Settings:
        def __init__(self) -> None:
            self.values: dict[str, str] = {}

        async def get(self, key: str) -> str | None:
            return self.values.get(key)

        async def set(self, key: str, value: str) -> None:
            self.values[key] = value

    settings = Settings()
    service = RecordingService(tmp_path, settings)  # type: ignore[arg-type]
    assert service.prepare() == 0
    kw = {"call_id": "1718893815.517", "started_at": 1718893815.0, "caller": "3102",
          "callee": "+49 301", "call_type": "Outbound"}  # fmt: skip
    assert service.target(**kw, numbers=("3102", "+49 301")) is None
    asyncio.run(service.update({"extensions": "3102, 3103", "trunks": None}))
    target = service.target(**kw, numbers=("3102", "+49 301"))
    assert target is not None and target.name.endswith("-1718893815.517-3102-+49_301-Outbound.wav")
    assert target.path == service.directory / target.name
    reloaded = RecordingService(tmp_path, settings)  # type: ignore[arg-type]
    asyncio.run(reloaded.load())
    assert reloaded.policy.wire()["extensions"] == "3102,3103"
    asyncio.run(service.update({"trunks": "all"}))
    assert service.target(**kw, numbers=(), trunks=("carrier",)) is not None
    with pytest.raises(DomainError):
        service.path_of(target.name)  # not written yet
    service.started(target)
    target.path.write_bytes(encode_wav(bytes(320), 8000))
    with pytest.raises(DomainError):
        service.path_of(target.name)  # being written
    service.finished(target)
    assert service.path_of(target.name) == target.path
    # a crash: more data than the header says, repaired at the next start
    with open(target.path, "ab") as file:
        file.write(bytes(160))
    assert service.prepare() == 1
    assert _read(target.path)[2] == bytes(480)


def test_generation_stops_between_prompts_when_told(tmp_path: Path) -> None:
    import threading

    stop = threading.Event()
    stop.set()
    store = PromptStore(tmp_path)
    assert generate.generate_missing(store, stop=stop) == 0
    assert store.names(custom=False) == []


def test_a_prompt_whose_text_changed_is_spoken_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if generate.shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    monkeypatch.setattr(generate, "SYSTEM_PROMPTS", {"goodbye": "Goodbye.", "vm-x": "Press 3."})
    store = PromptStore(tmp_path / "a")
    seed = tmp_path / "seed"
    assert generate.generate_missing(store, seed) == 3  # two prompts and the hold music
    assert generate.generate_missing(store) == 0
    before = (store.system / "vm-x.wav").read_bytes()
    monkeypatch.setitem(generate.SYSTEM_PROMPTS, "vm-x", "Press 3, or press 4 for more.")
    assert generate.generate_missing(store) == 1  # a newer catalogue: only that one again
    assert len((store.system / "vm-x.wav").read_bytes()) > len(before)
    assert generate.generate_missing(store) == 0
    # prompts copied from a seed of this catalogue are current; unrecorded ones are not
    other = PromptStore(tmp_path / "b")
    other.ensure_dirs()
    assert generate.seed_from(other, store.system) > 0
    assert generate.generate_missing(other) == 0
    (other.system / generate.SPOKEN).unlink()  # an install from before the record
    assert generate.generate_missing(other) == 2
