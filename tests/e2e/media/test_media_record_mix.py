"""`record` and `mix` in a real worker, with phones sending real tones over UDP."""

from __future__ import annotations

import asyncio
import os
import signal
import wave
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from kilopbx.media.codecs import PCMU, Decoder, encode
from kilopbx.media.pool import EndpointRef, MediaError, MediaPool
from kilopbx.media.rtp import parse_rtp
from tests.media_audio import goertzel, tone

from .conftest import WAIT, Phone, PoolEvents

MakePhone = Callable[[], Awaitable[Phone]]
ULAW = [(0, "PCMU")]


async def _talk(phones: dict[Phone, tuple[int, float]], seconds: float) -> None:
    """Each phone sends a tone to its endpoint's port, paced at 20 ms."""
    count = int(seconds * 50)
    frames = {
        phone: [encode(PCMU, tone(freq, 8000, 20 * count)[i * 320 : (i + 1) * 320])
                for i in range(count)]
        for phone, (_, freq) in phones.items()
    }  # fmt: skip
    loop = asyncio.get_running_loop()
    began = loop.time()
    for i in range(count):
        for n, (phone, (port, _)) in enumerate(phones.items()):
            phone.send_rtp(port, 0, 100 + i, 160 * i, 0x1000 + n, frames[phone][i])
        await asyncio.sleep(max(0.0, began + (i + 1) * 0.02 - loop.time()))


def _read_wav(path: Path) -> tuple[int, bytes]:
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
        return wav.getframerate(), wav.readframes(wav.getnframes())


async def test_a_recorded_call_holds_both_parties(
    pool: MediaPool, make_phone: MakePhone, tmp_path: Path
) -> None:
    a, b = await make_phone(), await make_phone()
    ea = await pool.create_endpoint(ULAW, a.address)
    eb = await pool.create_endpoint(ULAW, b.address, near=ea)
    await pool.bridge(ea, eb)
    path = tmp_path / "call.wav"
    recording = await pool.record([ea, eb], path)
    await _talk({a: (ea.port, 440.0), b: (eb.port, 1300.0)}, 1.0)
    seconds = await pool.stop_record(recording)
    assert 0.8 < seconds < 3.0
    ended = await recording.wait(WAIT)
    assert ended["reason"] == "stopped" and ended["bytes"] > 10_000
    rate, pcm = _read_wav(path)
    assert rate == 8000 and len(pcm) == ended["bytes"]
    heard = pcm[len(pcm) // 4 : 3 * len(pcm) // 4]
    assert goertzel(heard, 8000, 440) > 20 * goertzel(heard, 8000, 900)
    assert goertzel(heard, 8000, 1300) > 20 * goertzel(heard, 8000, 900)
    # the relay went on while we recorded
    assert b.received.qsize() > 20 and a.received.qsize() > 20


async def test_a_party_joins_a_running_recording(
    pool: MediaPool, make_phone: MakePhone, tmp_path: Path
) -> None:
    """A third phone joined with `record_join` is heard in the file from then on;
    joining twice changes nothing; an unknown recording or endpoint is refused."""
    a, b, c = await make_phone(), await make_phone(), await make_phone()
    ea = await pool.create_endpoint(ULAW, a.address)
    eb = await pool.create_endpoint(ULAW, b.address, near=ea)
    ec = await pool.create_endpoint(ULAW, c.address, near=ea)
    path = tmp_path / "conference.wav"
    recording = await pool.record([ea, eb], path)
    await _talk({a: (ea.port, 440.0), b: (eb.port, 1300.0), c: (ec.port, 2000.0)}, 0.6)
    await pool.record_join(recording, ec)
    await pool.record_join(recording, ec)  # twice: no change
    await _talk({a: (ea.port, 440.0), b: (eb.port, 1300.0), c: (ec.port, 2000.0)}, 1.0)
    await pool.stop_record(recording)
    ended = await recording.wait(WAIT)
    rate, pcm = _read_wav(path)
    assert rate == 8000 and len(pcm) == ended["bytes"]
    cut = 2 * 8000 * 6 // 10  # the first 0.6 s: before the join
    before, after = pcm[: cut - 1600], pcm[cut + 3200 :]
    control = goertzel(after, 8000, 900)
    for hz in (440, 1300, 2000):
        assert goertzel(after, 8000, hz) > 20 * control, hz
    assert goertzel(before, 8000, 2000) < goertzel(before, 8000, 440) / 100  # not yet
    with pytest.raises(MediaError) as over:
        await pool.record_join(recording, ec)
    assert over.value.code == "not_found"
    live = await pool.record([ea], tmp_path / "live.wav")
    with pytest.raises(MediaError) as ghost:
        await pool.record_join(live, EndpointRef(ea.worker, "ghost", 0))
    assert ghost.value.code == "not_found"
    await pool.stop_record(live)


async def test_record_refusals(pool: MediaPool, make_phone: MakePhone, tmp_path: Path) -> None:
    a = await make_phone()
    ea = await pool.create_endpoint(ULAW, a.address)
    (tmp_path / "taken.wav").write_bytes(b"")
    cases = {
        str(tmp_path / "taken.wav"): "conflict",
        "relative.wav": "bad_request",
        str(tmp_path / "x.mp3"): "bad_request",
        str(tmp_path / "no" / "dir.wav"): "bad_request",
        str(tmp_path / ".." / "up.wav"): "bad_request",
    }
    for path, code in cases.items():
        with pytest.raises(MediaError) as refused:
            await pool.record([ea], path)
        assert refused.value.code == code, path
    with pytest.raises(MediaError) as twice:
        await pool.record([ea, ea], str(tmp_path / "twice.wav"))
    assert twice.value.code == "bad_request"
    ghost = EndpointRef(ea.worker, "ghost", 0)
    with pytest.raises(MediaError) as missing:
        await pool.record([ghost], str(tmp_path / "ghost.wav"))
    assert missing.value.code == "not_found"
    # a voicemail-style recording ends by itself, and a deleted endpoint ends another
    limited = await pool.record([ea], tmp_path / "limit.wav", max_seconds=0.3)
    assert (await limited.wait(WAIT))["reason"] == "max_length"
    quiet = await pool.record([ea], tmp_path / "quiet.wav", silence_seconds=0.2)
    assert (await quiet.wait(WAIT))["reason"] == "silence"
    last = await pool.record([ea], tmp_path / "last.wav")
    await pool.delete_endpoint(ea)
    assert (await last.wait(WAIT))["reason"] == "deleted"
    _read_wav(tmp_path / "last.wav")


async def test_a_recording_survives_kill_9_of_its_worker(
    pool: MediaPool, make_phone: MakePhone, tmp_path: Path, events: PoolEvents
) -> None:
    a = await make_phone()
    ea = await pool.create_endpoint(ULAW, a.address)
    path = tmp_path / "killed.wav"
    recording = await pool.record([ea], path)
    await _talk({a: (ea.port, 600.0)}, 1.5)  # more than one flush interval
    pid = pool.pid(ea.worker)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert (await recording.wait(WAIT))["reason"] == "worker_lost"
    await asyncio.wait_for(events.lost.get(), WAIT)
    rate, pcm = _read_wav(path)  # valid as it lies on disk, without any repair
    assert rate == 8000 and len(pcm) >= 16000  # at least the first second
    assert goertzel(pcm[8000:], 8000, 600) > 20 * goertzel(pcm[8000:], 8000, 900)


async def test_listen_then_whisper_then_barge(pool: MediaPool, make_phone: MakePhone) -> None:
    phones = [await make_phone() for _ in range(3)]
    agent, customer, boss = phones
    ea = await pool.create_endpoint(ULAW, agent.address)
    ec = await pool.create_endpoint(ULAW, customer.address, near=ea)
    es = await pool.create_endpoint(ULAW, boss.address, near=ea)
    await pool.bridge(ea, ec)
    freq = {agent: 500.0, customer: 1000.0, boss: 1500.0}
    talk = {agent: (ea.port, 500.0), customer: (ec.port, 1000.0), boss: (es.port, 1500.0)}

    async def heard() -> dict[Phone, set[float]]:
        for phone in phones:
            while not phone.received.empty():
                phone.received.get_nowait()
        await _talk(talk, 0.6)
        result: dict[Phone, set[float]] = {}
        for phone in phones:
            packets = []
            while not phone.received.empty():
                packets.append(phone.received.get_nowait())
            decoder = Decoder(PCMU)
            pcm = b"".join(decoder.decode(bytes(parse_rtp(p).payload)) for p in packets[5:])
            powers = {f: goertzel(pcm, 8000, f) for f in freq.values()}
            top = max(powers.values())
            result[phone] = {f for f, p in powers.items() if top and p > top / 100}
        return result

    listen = await pool.mix({ea: [ec], ec: [ea], es: [ea, ec]})
    got = await heard()
    assert got[boss] == {500.0, 1000.0} and got[customer] == {500.0} and got[agent] == {1000.0}
    await pool.mix({ea: [ec, es], ec: [ea], es: [ea, ec]}, mix=listen)  # whisper
    got = await heard()
    assert got[agent] == {1000.0, 1500.0} and got[customer] == {500.0}
    await pool.mix({ea: None, ec: None, es: None}, mix=listen)  # barge
    got = await heard()
    assert got[agent] == {1000.0, 1500.0} and got[customer] == {500.0, 1500.0}
    assert got[boss] == {500.0, 1000.0}
    await pool.unmix(listen)
    await pool.bridge(ea, ec)  # back to a plain call
    with pytest.raises(MediaError) as gone:
        await pool.unmix(listen)
    assert gone.value.code == "not_found"
    with pytest.raises(MediaError) as stranger:
        await pool.mix({ea: [es]})
    assert stranger.value.code == "bad_request"
