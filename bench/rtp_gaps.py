"""What a caller hears, as gaps: one received RTP stream checked packet by packet.

Sans IO: `packet()` is fed (sequence, timestamp, marker, arrival seconds) in arrival
order. A talk spurt starts with the marker bit (the PBX marks the first packet of
each prompt) or a timestamp jump with contiguous sequence numbers (the pause between
two prompts); inside a spurt the audio must come without gaps:

- **missing**: sequence numbers that never arrived (the worker skipped frames after a
  stall, or the kernel dropped them);
- **silences**: more than `GAP` (60 ms) with nothing to play inside a spurt: the
  next packet arrives over 60 ms after the 20 ms of audio of the one before ran out,
  so even a phone with no jitter buffer to speak of ran dry;
- **late**: packets that arrive more than `GAP` after their place on the spurt's
  timeline (the spurt's earliest packet sets it), i.e. a 60 ms jitter buffer would
  have played silence instead.

Each missing run and each silence is one gap event; `events` counts them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GAP = 0.060  # seconds
CLOCK = 8000  # RTP clock of PCMU, PCMA and G.722
FRAME_TS = 160
FRAME_SECONDS = 0.020
SEQ_MOD = 1 << 16
MAX_DROPOUT = 3000


@dataclass
class StreamGaps:
    received: int = 0
    missing: int = 0
    silences: int = 0
    late: int = 0
    events: int = 0
    spurts: int = 0
    longest_silence: float = 0.0  # seconds, inside a spurt
    worst_lateness: float = 0.0
    gap_times: list[float] = field(default_factory=list)  # when each gap event ended
    _last: tuple[int, int, float] | None = None  # seq, ts, arrival
    _spurt: list[tuple[int, float]] = field(default_factory=list)  # (ts offset, arrival)
    _spurt_ts: int = 0  # the spurt's first timestamp, unwrapped from there

    def packet(self, seq: int, ts: int, marker: bool, arrival: float) -> None:
        self.received += 1
        last = self._last
        self._last = (seq, ts, arrival)
        if last is None:
            self._start(ts, arrival)
            return
        step = (seq - last[0]) % SEQ_MOD
        if step == 0 or step >= SEQ_MOD - MAX_DROPOUT:
            self._last = last  # a duplicate or a reordered old packet: ignored
            self.received -= 1
            return
        advance = (ts - last[1]) % (1 << 32)
        lost = step - 1 if step < MAX_DROPOUT else 0
        if marker or step >= MAX_DROPOUT or advance > FRAME_TS * step + FRAME_TS:
            self._end_spurt()  # a new prompt, or a pause: not a gap
            self._start(ts, arrival)
            return
        silence = arrival - last[2] - FRAME_SECONDS
        if lost:
            self.missing += lost
            self.gap_times.append(arrival)
        elif silence > GAP:
            self.silences += 1
            self.gap_times.append(arrival)
        self.events = len(self.gap_times)
        if not lost:
            self.longest_silence = max(self.longest_silence, silence)
        self._spurt.append(((ts - self._spurt_ts) % (1 << 32), arrival))

    def finish(self) -> StreamGaps:
        self._end_spurt()
        return self

    def _start(self, ts: int, arrival: float) -> None:
        self.spurts += 1
        self._spurt_ts = ts
        self._spurt = [(0, arrival)]

    def _end_spurt(self) -> None:
        if not self._spurt:
            return
        base = min(arrival - offset / CLOCK for offset, arrival in self._spurt)
        for offset, arrival in self._spurt:
            lateness = arrival - offset / CLOCK - base
            self.worst_lateness = max(self.worst_lateness, lateness)
            if lateness > GAP:
                self.late += 1
        self._spurt = []
