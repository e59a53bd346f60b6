"""The callers' audio for bench_ivr.py: one RTP socket per IVR session.

python bench/ivr_callers.py PORTS_JSON WARMUP SECONDS KEY

Each socket sends 20 ms PCMU frames of speech-like noise at 50 packets/s to one PBX
media port (the port the PBX put in its SDP; the callers' SDP names port 9, so the
PBX's endpoint latches onto this socket), and so the worker's in-band DTMF detector
listens to real audio on every session. What the PBX sends back (the IVR's prompt)
is checked for gaps (`rtp_gaps.py`) over SECONDS after WARMUP, by the time the kernel
received each packet (SO_TIMESTAMPNS), so that this process being descheduled on a
busy machine does not pass for a gap in what the PBX sent. Then every session
presses KEY in band (200 ms of its two tones), and the time until the prompt stops
coming is the key's reaction time. Prints one JSON result.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import resource
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import uvloop

from bench.rtp_gaps import StreamGaps
from kilopbx.media.codecs import PCMU, encode
from kilopbx.media.inband_dtmf import HIGH, KEYS, LOW

HOST = "127.0.0.1"
RATE = 8000
FRAME = 160
KEY_MS = 200
STOPPED = 0.5  # seconds without a packet: the prompt has stopped
REACTION_LIMIT = 5.0
SO_TIMESTAMPNS = 35  # Linux; not in the socket module
TIMESPEC = struct.Struct("=qq")
MOMENT = 0.1  # seconds: gap events of different sessions this close are one stall


def noise_frames(count: int, seed: int = 7) -> list[bytes]:
    """PCMU frames of noise whose level rises and falls like speech (syllables)."""
    rng = random.Random(seed)
    frames = []
    for n in range(count):
        level = 2500 * (1.2 + math.sin(n / 7.0)) * (0.3 + 0.7 * (n % 11 > 2))
        pcm = struct.pack(f"={FRAME}h", *(int(rng.gauss(0, level)) for _ in range(FRAME)))
        frames.append(encode(PCMU, pcm))
    return frames


def key_frames(key: str) -> list[bytes]:
    row, column = next(
        (r, c) for r, line in enumerate(KEYS) for c, k in enumerate(line) if k == key
    )
    low, high = LOW[row], HIGH[column]
    frames = []
    for f in range(KEY_MS // 20):
        pcm = struct.pack(
            f"={FRAME}h",
            *(
                int(
                    6000 * math.sin(2 * math.pi * low * (f * FRAME + n) / RATE)
                    + 6000 * math.sin(2 * math.pi * high * (f * FRAME + n) / RATE)
                )
                for n in range(FRAME)
            ),
        )
        frames.append(encode(PCMU, pcm))
    return frames


class Session:
    """One caller's socket; packets are read as soon as the loop sees them, each with
    the kernel's arrival time, turned into this process's monotonic clock."""

    def __init__(self, window: list[float], clock_offset: float) -> None:
        self.window = window  # [measure from, measure until] (monotonic seconds)
        self.clock_offset = clock_offset  # monotonic minus real time
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # a second or two of this process being descheduled must not overflow it
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((HOST, 0))
        self.sock.setblocking(False)
        self.kernel_time = True
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        except OSError:
            self.kernel_time = False
        self.gaps = StreamGaps()
        self.last_packet = 0.0

    def readable(self) -> None:
        while True:
            try:
                data, ancillary, _flags, _addr = self.sock.recvmsg(2048, 64)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # an ICMP error from a port the PBX closed
            now = time.monotonic()
            for level, kind, value in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
                    seconds, nanoseconds = TIMESPEC.unpack_from(value)
                    now = seconds + nanoseconds / 1e9 + self.clock_offset
            self.received(data, now)

    def received(self, data: bytes, now: float) -> None:
        if len(data) < 12 or data[0] >> 6 != 2 or data[1] & 0x7F >= 72:
            return  # not RTP (an RTCP report)
        self.last_packet = now
        if not self.window[0] <= now < self.window[1]:
            return
        seq, ts = struct.unpack_from("!HI", data, 2)
        self.gaps.packet(seq, ts, bool(data[1] & 0x80), now)


async def run(ports: list[int], warmup: float, seconds: float, key: str) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    window = [math.inf, math.inf]
    sessions: list[tuple[Session, int]] = []
    offset = time.monotonic() - time.time()
    for port in ports:
        session = Session(window, offset)
        loop.add_reader(session.sock.fileno(), session.readable)
        sessions.append((session, port))
    audio = noise_frames(500)
    pressed = key_frames(key)
    slots = 10  # spread the sessions over the 20 ms instead of one burst
    groups = [sessions[i::slots] for i in range(slots)]
    start = time.monotonic()
    window[0], window[1] = start + warmup, start + warmup + seconds
    key_at = window[1]
    stop_at = key_at + REACTION_LIMIT
    usage = resource.getrusage(resource.RUSAGE_SELF)
    lag, tick, seq = 0.0, 0, 0
    while True:
        due = start + tick * 0.02 / slots
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        now = time.monotonic()
        if now >= stop_at:
            break
        lag = max(lag, now - due)
        group = groups[tick % slots]
        if tick % slots == 0:
            seq += 1
        frame_at = start + seq * 0.02
        pressing = 0 <= (frame_at - key_at) < KEY_MS / 1000
        if pressing:
            payload = pressed[min(len(pressed) - 1, int((frame_at - key_at) / 0.02))]
        else:
            payload = audio[seq % len(audio)]
        header = struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, seq * FRAME, 0)
        for ssrc, (session, port) in enumerate(group):
            packet = header[:8] + struct.pack("!I", ssrc + 1) + payload
            with contextlib.suppress(OSError):  # a full buffer: that frame is lost
                session.sock.sendto(packet, (HOST, port))
        tick += 1
        if now > key_at + STOPPED and all(
            s.last_packet < now - STOPPED for s, _ in sessions if s.last_packet
        ):
            break  # every prompt has stopped: the keys were heard
    used = resource.getrusage(resource.RUSAGE_SELF)
    for session, _ in sessions:
        loop.remove_reader(session.sock.fileno())
        session.sock.close()
    finished = [session.gaps.finish() for session, _ in sessions]
    reactions = sorted(
        s.last_packet - key_at for s, _ in sessions if key_at < s.last_packet < stop_at - 1.0
    )
    stopped = sum(1 for s, _ in sessions if s.last_packet and s.last_packet < stop_at - 1.0)
    with_gaps = [g for g in finished if g.events or g.late]
    # a stall of the worker (or of the machine) shows as gaps in many sessions at once
    moments = {int(t / MOMENT) for g in finished for t in g.gap_times}
    return {
        "sessions": len(sessions),
        "silent": sum(1 for g in finished if g.received == 0),
        "packets": sum(g.received for g in finished),
        "expected": len(sessions) * seconds * 50,
        "sessions_with_gaps": len(with_gaps),
        "gap_events": sum(g.events for g in finished),
        "missing": sum(g.missing for g in finished),
        "silences": sum(g.silences for g in finished),
        "late": sum(g.late for g in finished),
        "gap_moments": len(moments),
        "moment_ends": [(m + 1) * MOMENT for m in sorted(moments)][:2000],  # monotonic s
        "spurts": sum(g.spurts for g in finished),
        "longest_silence_ms": max((g.longest_silence for g in finished), default=0.0) * 1000,
        "worst_lateness_ms": max((g.worst_lateness for g in finished), default=0.0) * 1000,
        "key_stopped": stopped,
        "key_reaction_median_ms": reactions[len(reactions) // 2] * 1000 if reactions else 0.0,
        "generator_cpu_s": used.ru_utime + used.ru_stime - usage.ru_utime - usage.ru_stime,
        "generator_lag_ms": lag * 1000,
        "kernel_time": all(session.kernel_time for session, _ in sessions),
    }


def main() -> int:
    with contextlib.suppress(PermissionError):
        import os

        os.nice(-5)  # measure the PBX, not how often the callers were descheduled
    ports = json.loads(sys.argv[1])
    warmup, seconds, key = float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    print(json.dumps(uvloop.run(run(ports, warmup, seconds, key))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
