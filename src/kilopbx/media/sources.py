"""What a `play` command may name, turned into 16-bit mono PCM at the rate needed.

Sources:

- `tone:NAME` or `tone:F1+F2/ON,OFF,...`: a call-progress tone (`tones.py`), one cycle;
- `silence:MS`: that many milliseconds of silence (a pause between prompts);
- `file:/absolute/path.wav` (or just the absolute path): a WAV file of any PCM
  flavour (`wav.py`). For a wideband leg (G.722), a file of the same name in a `16k`
  directory beside it (`/prompts/16k/path.wav`) is played instead when it exists, so
  that prompts prepared once per rate play without resampling. A `{rate}` in the
  path is replaced by `8000` or `16000`, the rate the endpoint's codec needs.

The worker reads a file when a `play` names it and keeps the decoded audio in a
small cache (checked against the file's size and modification time), so a prompt
played to many callers is read once.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from .tones import ToneError, parse_tone, render
from .wav import WavError, read_pcm

CACHE_BYTES = 96 << 20
MAX_SILENCE_MS = 600_000
WIDE_RATE = 16000
WIDE_DIR = "16k"  # beside a prompt: the same prompt at 16 kHz


class SourceError(ValueError):
    """A source the worker cannot play; `missing` when it names a file that is not there."""

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing


class SourceCache:
    def __init__(self, max_bytes: int = CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, int], tuple[tuple[int, int], bytes]] = OrderedDict()
        self._tones: dict[tuple[str, int], bytes] = {}
        self._bytes = 0

    def load(self, source: str, rate: int) -> bytes:
        """PCM at `rate` for one source; `SourceError` when it cannot be played."""
        kind, _, rest = source.partition(":")
        if source.startswith("/"):
            kind, rest = "file", source
        match kind:
            case "tone":
                return self._tone(rest, rate)
            case "silence":
                try:
                    milliseconds = int(rest)
                except ValueError:
                    raise SourceError(f"silence needs milliseconds, not {rest[:20]!r}") from None
                if not 0 < milliseconds <= MAX_SILENCE_MS:
                    raise SourceError(f"silence must last 1 to {MAX_SILENCE_MS} ms")
                return bytes(2 * (rate * milliseconds // 1000))
            case "file":
                return self._file(rest.replace("{rate}", str(rate)), rate)
        raise SourceError(f"unknown source kind {kind[:20]!r}: tone:, silence: or file:")

    def _tone(self, spec: str, rate: int) -> bytes:
        key = (spec, rate)
        pcm = self._tones.get(key)
        if pcm is None:
            try:
                pcm = render(parse_tone(spec), rate)
            except ToneError as exc:
                raise SourceError(str(exc)) from None
            if len(self._tones) < 256:  # custom tones from tests or admins: bounded
                self._tones[key] = pcm
        return pcm

    def _file(self, name: str, rate: int) -> bytes:
        path = Path(name)
        if not path.is_absolute() or ".." in path.parts:
            raise SourceError("a file source must be an absolute path without '..'")
        if rate == WIDE_RATE:
            wide = path.parent / WIDE_DIR / path.name
            if wide.is_file():
                path = wide
        try:
            stat = path.stat()
        except OSError:
            raise SourceError(f"no file {path.name!r}", missing=True) from None
        key = (str(path), rate)
        stamp = (stat.st_size, stat.st_mtime_ns)
        cached = self._entries.get(key)
        if cached is not None and cached[0] == stamp:
            self._entries.move_to_end(key)
            return cached[1]
        try:
            pcm = read_pcm(path, rate)
        except WavError as exc:
            raise SourceError(f"{path.name}: {exc}") from None
        except OSError as exc:
            raise SourceError(f"{path.name}: {exc.strerror}", missing=True) from None
        if cached is not None:
            self._bytes -= len(cached[1])
        self._entries[key] = (stamp, pcm)
        self._bytes += len(pcm)
        while self._bytes > self.max_bytes and len(self._entries) > 1:
            _, (_, old) = self._entries.popitem(last=False)
            self._bytes -= len(old)
        return pcm
