"""Media applications benchmark: concurrent playbacks, and concurrent recorded calls.

1. Playback: BENCH_PLAY_SESSIONS (200) endpoints in a MediaPool of
   BENCH_APPS_WORKERS (default: one per core) workers, each playing the generated hold
   music (a 16 s WAV, looped) to its own socket in a listener process, measured for
   BENCH_APPS_SECONDS (20) after BENCH_APPS_WARMUP (3) s. Prints packets received
   against the 50/s expected, and gaps as bench_ivr.py counts them (`rtp_gaps.py`, by
   the kernel's arrival times: missing packets, silences over 60 ms, packets over
   60 ms late), the longest silence, and worker CPU per session.
2. Recording: BENCH_RECORD_CALLS (100) bridged calls, every one recorded to a WAV,
   with RTP both ways at 50 packets/s per direction from bench/media_load.py. Prints
   relay loss and jitter as bench_media.py does, worker CPU per recorded call, the
   disk write rate (bytes on disk per second of audio recorded, times the calls), and
   checks that every file is a valid WAV of the right length.

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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import uvloop

from bench.bench_media import cpu_seconds, run_generator
from bench.ivr_callers import Session
from bench.rtp_gaps import GAP
from kilopbx.apps.prompts.holdmusic import render as render_music
from kilopbx.config import PortRange
from kilopbx.media.pool import MediaPool, worker_count
from kilopbx.media.wav import encode_wav

SESSIONS = int(os.environ.get("BENCH_PLAY_SESSIONS", "200"))
CALLS = int(os.environ.get("BENCH_RECORD_CALLS", "100"))
SECONDS = float(os.environ.get("BENCH_APPS_SECONDS", "20"))
WARMUP = float(os.environ.get("BENCH_APPS_WARMUP", "3"))
WORKERS = worker_count(int(os.environ.get("BENCH_APPS_WORKERS", "0")))
ULAW = [(0, "PCMU"), (101, "telephone-event")]
HOST = "127.0.0.1"


# ---- the listener process: many "phones" that only listen ---------------------------


async def listen(count: int, warmup: float, seconds: float) -> None:
    """Receive-only callers (`ivr_callers.Session`: kernel arrival times, gaps counted
    by `rtp_gaps.py` as in bench_ivr.py); prints their ports, then one JSON result."""
    loop = asyncio.get_running_loop()
    start = time.monotonic()
    window = [start + warmup, start + warmup + seconds]
    offset = time.monotonic() - time.time()
    ears = [Session(window, offset) for _ in range(count)]
    for ear in ears:
        loop.add_reader(ear.sock.fileno(), ear.readable)
    print(json.dumps([ear.sock.getsockname()[1] for ear in ears]), flush=True)
    await asyncio.sleep(window[1] - time.monotonic() + 0.2)
    gaps = [ear.gaps.finish() for ear in ears]
    print(
        json.dumps(
            {
                "packets": [g.received for g in gaps],
                "missing": sum(g.missing for g in gaps),
                "silences": sum(g.silences for g in gaps),
                "late": sum(g.late for g in gaps),
                "with_gaps": sum(1 for g in gaps if g.events or g.late),
                "worst_ms": max(g.longest_silence for g in gaps) * 1000,
                "kernel_time": all(ear.kernel_time for ear in ears),
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
        f"fewest in one session {min(packets)}; gaps in {result['with_gaps']} sessions: "
        f"{result['missing']} packets missing, {result['silences']} silences over "
        f"{GAP * 1000:.0f} ms, {result['late']} packets over {GAP * 1000:.0f} ms late, "
        f"longest silence {result['worst_ms']:.0f} ms"
        f"{'' if result['kernel_time'] else ' (listener times, not the kernel)'}; frames "
        f"the players skipped after late ticks (whole run) {sum(skipped)}; worker CPU "
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
        result = await run_generator(pairs, WARMUP, SECONDS, pids)
    finally:
        await pool.close()  # the workers close the files
    lengths, written = [], 0
    for path in sorted(directory.glob("*.wav")):
        with wave.open(str(path)) as wav:
            lengths.append(wav.getnframes() / wav.getframerate())
        written += path.stat().st_size
    if not lengths:
        print(f"recording: {CALLS} calls, but no WAV file was written")
        return
    rate = written / (sum(lengths) / len(lengths))  # bytes per second of the run
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


async def run() -> None:
    print(
        f"{os.cpu_count()} CPUs, {WORKERS} media workers; the machine may be shared: load "
        f"average {' '.join(f'{v:.2f}' for v in os.getloadavg())}"
    )
    with tempfile.TemporaryDirectory(prefix="kilopbx-bench-") as tmp:
        music = Path(tmp) / "hold-music.wav"
        music.write_bytes(encode_wav(render_music(), 16000))
        await playback(music)
        print(f"  (load average {os.getloadavg()[0]:.2f})")
        recordings = Path(tmp) / "recordings"
        recordings.mkdir()
        await recording(recordings)
        print(f"  (load average {os.getloadavg()[0]:.2f})")


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "listen":
        uvloop.run(listen(int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])))
        return 0
    uvloop.run(run())
    return 0


if __name__ == "__main__":
    socket.setdefaulttimeout(30)
    sys.exit(main())
