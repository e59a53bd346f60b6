"""Media applications benchmark: concurrent playbacks, and concurrent recorded calls.

1. Playback: BENCH_PLAY_SESSIONS (200) endpoints in a MediaPool of
   BENCH_APPS_WORKERS (default: one per core) workers, each playing the generated hold
   music (a 16 s WAV, looped) to its own socket in a listener process, measured for
   BENCH_APPS_SECONDS (20) after BENCH_APPS_WARMUP (3) s. Prints packets received
   against the 50/s expected, gaps (no packet for more than 60 ms: longer than a
   phone's usual jitter buffer), the worst silence, and worker CPU per session.
2. Recording: BENCH_RECORD_CALLS (100) bridged calls, every one recorded to a WAV,
   with RTP both ways at 50 packets/s per direction from bench/media_load.py. Prints
   relay loss and jitter as bench_media.py does, worker CPU per recorded call, the
   disk write rate, and checks that every file is a valid WAV of the right length.

    .venv/bin/python bench/bench_media_apps.py
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import uvloop

from bench.bench_media import cpu_seconds, run_generator
from kilopbx.apps.prompts.holdmusic import render as render_music
from kilopbx.config import PortRange
from kilopbx.media.pool import MediaPool, worker_count
from kilopbx.media.wav import encode_wav

SESSIONS = int(os.environ.get("BENCH_PLAY_SESSIONS", "200"))
CALLS = int(os.environ.get("BENCH_RECORD_CALLS", "100"))
SECONDS = float(os.environ.get("BENCH_APPS_SECONDS", "20"))
WARMUP = float(os.environ.get("BENCH_APPS_WARMUP", "3"))
WORKERS = worker_count(int(os.environ.get("BENCH_APPS_WORKERS", "0")))
GAP = 0.060
ULAW = [(0, "PCMU"), (101, "telephone-event")]
HOST = "127.0.0.1"


# ---- the listener process: many "phones" that only listen ---------------------------


class _Ear(asyncio.DatagramProtocol):
    def __init__(self, window: list[float]) -> None:
        self.window = window
        self.packets = 0
        self.last = 0.0
        self.gaps = 0
        self.worst = 0.0
        self.first_seq: int | None = None
        self.span = 0  # sequence numbers from the first packet in the window to the last

    def datagram_received(self, data: bytes, addr: Any) -> None:
        now = time.monotonic()
        if len(data) < 12 or data[1] & 0x7F != 0 or not self.window[0] <= now < self.window[1]:
            return
        seq = int.from_bytes(data[2:4], "big")
        if self.first_seq is None:
            self.first_seq = seq
        self.span = max(self.span, (seq - self.first_seq) % 65536 + 1)
        if self.last:
            silence = now - self.last
            self.worst = max(self.worst, silence)
            self.gaps += silence > GAP
        self.last = now
        self.packets += 1


async def listen(count: int, warmup: float, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    start = time.monotonic()
    window = [start + warmup, start + warmup + seconds]
    ears, ports = [], []
    for _ in range(count):
        transport, ear = await loop.create_datagram_endpoint(
            lambda: _Ear(window), local_addr=(HOST, 0)
        )
        ears.append(ear)
        ports.append(transport.get_extra_info("sockname")[1])
    print(json.dumps(ports), flush=True)
    await asyncio.sleep(window[1] - time.monotonic() + 0.2)
    print(
        json.dumps(
            {
                "packets": [e.packets for e in ears],
                "missing": sum(e.span - e.packets for e in ears),
                "gaps": sum(e.gaps for e in ears),
                "worst_ms": max(e.worst for e in ears) * 1000,
            }
        ),
        flush=True,
    )


# ---- the benchmark ------------------------------------------------------------------


def _pool(endpoints: int) -> MediaPool:
    low = 22000  # below the ephemeral ports the load processes bind
    return MediaPool(WORKERS, PortRange(low, low + 4 * endpoints + 1000), bind=HOST)


async def playback(music: Path) -> None:
    listener = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "listen", str(SESSIONS), str(WARMUP + 2), str(SECONDS),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    pool = _pool(SESSIONS)
    skipped: list[int] = []
    pool.on_notification = lambda _, note: skipped.append(note.data.get("skipped", 0))
    await pool.start()
    try:
        assert listener.stdout is not None
        ports = json.loads(await asyncio.wait_for(listener.stdout.readline(), 30))
        began = time.monotonic()
        refs = []
        for port in ports:
            ref = await pool.create_endpoint(ULAW, (HOST, port))
            await pool.play(ref, f"file:{music}", loop=True)
            refs.append(ref)
        setup = time.monotonic() - began
        await asyncio.sleep(max(0.0, WARMUP + 2 - setup))
        pids = [pid for i in range(pool.size) if (pid := pool.pid(i)) is not None]
        before = [cpu_seconds(pid) for pid in pids]
        await asyncio.sleep(SECONDS)
        cpu = [cpu_seconds(pid) - b for pid, b in zip(pids, before, strict=True)]
        out, _ = await asyncio.wait_for(listener.communicate(), 30)
        for ref in refs:
            await pool.stop(ref)  # playback_ended reports the frames each player skipped
        await asyncio.sleep(0.5)
    finally:
        await pool.close()
    result = json.loads(out.decode().strip().splitlines()[-1])
    packets = result["packets"]
    expected = 50 * SECONDS * SESSIONS
    total_cpu = sum(cpu) / SECONDS
    per_worker = ", ".join(f"{c / SECONDS * 100:.0f} %" for c in cpu)
    print(
        f"playback: {SESSIONS} sessions in {WORKERS} workers for {SECONDS:.0f} s: "
        f"{sum(packets):,} of ~{expected:,.0f} packets ({100 * sum(packets) / expected:.2f} %), "
        f"fewest in one session {min(packets)}; frames missing in the sequence "
        f"{result['missing']}, skipped by the players (late ticks) {sum(skipped)}; at the "
        f"listener: silences over {GAP * 1000:.0f} ms {result['gaps']}, worst "
        f"{result['worst_ms']:.0f} ms; worker CPU "
        f"{total_cpu * 100:.1f} % of a core ({per_worker}), "
        f"{total_cpu * 100 / SESSIONS:.3f} % of a core per session (setup {setup:.1f} s)"
    )


async def recording(directory: Path) -> None:
    pool = _pool(2 * CALLS)
    await pool.start()
    try:
        pairs = []
        for n in range(CALLS):
            a = await pool.create_endpoint(ULAW)
            b = await pool.create_endpoint(ULAW, near=a)
            await pool.bridge(a, b)
            await pool.record([a, b], directory / f"call-{n}.wav")
            pairs.append([a.port, b.port])
        pids = [pid for i in range(pool.size) if (pid := pool.pid(i)) is not None]
        used_before, since = _bytes(directory), time.monotonic()
        result = await run_generator(pairs, WARMUP, SECONDS, pids)
        rate = (_bytes(directory) - used_before) / (time.monotonic() - since)
    finally:
        await pool.close()  # the workers close the files
    lengths = []
    for path in sorted(directory.glob("*.wav")):
        with wave.open(str(path)) as wav:
            lengths.append(wav.getnframes() / wav.getframerate())
    sent, received = result["sent"], result["received"]
    relay = sum(result["relay_cpu"])
    print(
        f"recording: {CALLS} recorded calls (both directions relayed and mixed into one "
        f"WAV each) in {WORKERS} workers for {SECONDS:.0f} s: relay loss "
        f"{100 * (sent - received) / max(1, sent):.3f} %, added jitter mean "
        f"{result['jitter_mean_ms']:.2f} ms, worst stream {result['jitter_max_ms']:.2f} ms; "
        f"worker CPU {relay * 100:.1f} % of a core, {relay * 100 / CALLS:.3f} % per recorded "
        f"call; disk {rate / 1e6:.2f} MB/s ({rate / CALLS / 1e3:.1f} kB/s per call); "
        f"{len(lengths)} valid WAVs, {min(lengths):.1f}-{max(lengths):.1f} s"
    )


def _bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.glob("*.wav"))


async def run() -> None:
    print(f"{os.cpu_count()} CPUs, {WORKERS} media workers; the machine may be shared")
    with tempfile.TemporaryDirectory(prefix="kilopbx-bench-") as tmp:
        music = Path(tmp) / "hold-music.wav"
        music.write_bytes(encode_wav(render_music(), 16000))
        await playback(music)
        recordings = Path(tmp) / "recordings"
        recordings.mkdir()
        await recording(recordings)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "listen":
        uvloop.run(listen(int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])))
        return 0
    uvloop.run(run())
    return 0


if __name__ == "__main__":
    socket.setdefaulttimeout(30)
    sys.exit(main())
