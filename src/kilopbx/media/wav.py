"""WAV files: read any PCM flavour into what the media path uses, write them safely.

Reading accepts the RIFF/WAVE files people actually have: PCM of 8, 16, 24 or 32
bits, 32- or 64-bit floating point (what audio editors export by default), G.711
A-law and µ-law, mono or stereo (or more), any sampling rate, plain or
WAVE_FORMAT_EXTENSIBLE, and files written to a pipe (a `data` size of 0 or
0xFFFFFFFF: the audio runs to the end of the file). Everything becomes 16-bit
native-endian mono PCM at the rate the caller asks for. Anything else (ADPCM,
MP3-in-WAV, a truncated or lying header) is a `WavError` with a sentence that says
why.

Writing is for recordings that must survive a crash: `WavWriter` appends audio and
rewrites the two size fields after every flush, so the file on disk is always a
valid WAV, at worst missing the last flush interval. `repair` fixes the sizes of a
file whose writer died between the data and the header update.
"""

from __future__ import annotations

import os
import struct
import sys
import warnings
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

PCM = 1
FLOAT = 3
ALAW = 6
ULAW = 7
EXTENSIBLE = 0xFFFE
HEADER_SIZE = 44
UNKNOWN_SIZES = (0, 0xFFFFFFFF)  # a writer that could not seek back: up to the end
MAX_READ = 64 << 20  # 64 MiB: ten minutes of CD audio; larger is no prompt


class WavError(ValueError):
    """Not a WAV file we can use; the message says why in one sentence."""


@dataclass(frozen=True)
class WavInfo:
    format: int
    channels: int
    rate: int
    width: int  # bytes per sample of one channel
    data_offset: int
    data_size: int


def parse_header(head: bytes, file_size: int) -> WavInfo:
    """Find `fmt ` and `data` in the first bytes of a file (the data may be cut short)."""
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise WavError("not a WAV file (no RIFF/WAVE header)")
    offset = 12
    fmt: tuple[int, int, int, int] | None = None
    while offset + 8 <= len(head):
        chunk, size = struct.unpack_from("<4sI", head, offset)
        body = offset + 8
        if chunk == b"fmt ":
            if size < 16 or body + 16 > len(head):
                raise WavError("the WAV format chunk is too short")
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", head, body)
            if tag == EXTENSIBLE and size >= 40 and body + 26 <= len(head):
                (tag,) = struct.unpack_from("<H", head, body + 24)  # the sub-format GUID
            fmt = (tag, channels, rate, bits)
        elif chunk == b"data":
            if fmt is None:
                raise WavError("the WAV data comes before its format chunk")
            tag, channels, rate, bits = fmt
            _check_format(tag, channels, rate, bits)
            available = max(0, file_size - body)
            if size in UNKNOWN_SIZES:
                size = available
            return WavInfo(tag, channels, rate, bits // 8, body, min(size, available))
        offset = body + size + (size & 1)
    raise WavError("the WAV file has no audio data")


def _check_format(tag: int, channels: int, rate: int, bits: int) -> None:
    if tag == FLOAT and bits not in (32, 64):
        raise WavError(f"{bits}-bit floating-point samples are not supported: use 32 or 64")
    if tag not in (PCM, FLOAT, ALAW, ULAW):
        raise WavError(f"WAV encoding {tag:#x} is not supported: use PCM, A-law or µ-law")
    if not 1 <= channels <= 8:
        raise WavError(f"a WAV file with {channels} channels is not supported")
    if not 4000 <= rate <= 192_000:
        raise WavError(f"a sampling rate of {rate} Hz is not supported")
    if (tag == PCM and bits not in (8, 16, 24, 32)) or (tag in (ALAW, ULAW) and bits != 8):
        raise WavError(f"{bits}-bit samples are not supported in this encoding")


def read_pcm(path: Path, rate: int, *, max_bytes: int = MAX_READ) -> bytes:
    """The whole file as 16-bit native-endian mono PCM at `rate` Hz."""
    size = path.stat().st_size
    if size > max_bytes:
        raise WavError(f"the file is larger than {max_bytes >> 20} MiB")
    return decode_wav(path.read_bytes(), rate)


def decode_wav(data: bytes, rate: int) -> bytes:
    info = parse_header(data, len(data))  # all of it: metadata chunks may be large
    frame = info.channels * info.width
    raw = data[info.data_offset : info.data_offset + info.data_size - info.data_size % frame]
    return to_mono16(raw, info, rate)


def to_mono16(raw: bytes, info: WavInfo, rate: int) -> bytes:
    width = info.width
    if info.format == FLOAT:
        raw, width = _float_to_16(raw, width), 2
    elif info.format == ALAW:
        raw, width = audioop.alaw2lin(raw, 2), 2
    elif info.format == ULAW:
        raw, width = audioop.ulaw2lin(raw, 2), 2
    elif width == 1:
        raw = audioop.bias(raw, 1, -128)  # 8-bit WAV is unsigned
    elif sys.byteorder == "big":  # pragma: no cover - WAV is little-endian
        raw = audioop.byteswap(raw, width)
    if width != 2:
        raw = audioop.lin2lin(raw, width, 2)
    channels = info.channels
    if channels > 1:
        # average the channels: fold pairs until one is left (stereo is the usual case)
        raw = _downmix(raw, channels)
    if info.rate != rate and raw:
        raw, _ = audioop.ratecv(raw, 2, 1, info.rate, rate, None)
    return bytes(raw)


def _float_to_16(raw: bytes, width: int) -> bytes:
    """Floating-point samples (full scale ±1.0) as 16-bit native PCM, clipped; a
    sample that is not a number (NaN) becomes silence."""
    samples = array("f" if width == 4 else "d", raw)
    if sys.byteorder == "big":  # pragma: no cover - WAV is little-endian
        samples.byteswap()
    out = array(
        "h",
        (
            0 if v != v else 32767 if v >= 1.0 else -32768 if v <= -1.0 else int(v * 32768.0)
            for v in samples
        ),
    )
    return out.tobytes()


def _downmix(raw: bytes, channels: int) -> bytes:
    if channels == 2:
        return audioop.tomono(raw, 2, 0.5, 0.5)
    frame = 2 * channels
    frames = [raw[i : i + frame] for i in range(0, len(raw) - frame + 1, frame)]
    out = bytearray()
    for one in frames:
        values = struct.unpack(f"={channels}h", one)
        out += struct.pack("=h", sum(values) // channels)
    return bytes(out)


def header(rate: int, channels: int, data_size: int) -> bytes:
    block = 2 * channels
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + data_size, b"WAVE", b"fmt ", 16, PCM, channels, rate,
        rate * block, block, 16, b"data", data_size,
    )  # fmt: skip


def encode_wav(pcm: bytes, rate: int) -> bytes:
    """16-bit native mono PCM as a complete WAV file."""
    if sys.byteorder == "big":  # pragma: no cover
        pcm = audioop.byteswap(pcm, 2)
    return header(rate, 1, len(pcm)) + pcm


class WavWriter:
    """Append 16-bit PCM to a WAV file that stays valid on disk after every `flush`."""

    def __init__(self, path: Path, rate: int, channels: int = 1) -> None:
        self.path = path
        self.rate = rate
        self.channels = channels
        self.data_size = 0
        self._pending = bytearray()
        # "x": a recording never overwrites a file; FileExistsError tells the caller
        self._file: BinaryIO | None = open(path, "xb")  # noqa: SIM115 - kept open on purpose
        self._file.write(header(rate, channels, 0))
        self._file.flush()

    @property
    def seconds(self) -> float:
        return (self.data_size + len(self._pending)) / (2 * self.channels * self.rate)

    def write(self, pcm: bytes) -> None:
        self._pending += pcm

    def flush(self) -> int:
        """Write what is pending, then the sizes that cover it. Returns the bytes written."""
        if self._file is None or not self._pending:
            return 0
        data = bytes(self._pending)
        self._pending.clear()
        if sys.byteorder == "big":  # pragma: no cover
            data = audioop.byteswap(data, 2)
        self._file.seek(0, os.SEEK_END)
        self._file.write(data)
        self.data_size += len(data)
        self._file.seek(4)
        self._file.write(struct.pack("<I", 36 + self.data_size))
        self._file.seek(40)
        self._file.write(struct.pack("<I", self.data_size))
        self._file.flush()  # into the OS: a killed process loses nothing written here
        return len(data)

    def close(self) -> None:
        if self._file is None:
            return
        self.flush()
        self._file.close()
        self._file = None


def repair(path: Path) -> bool:
    """Make the sizes in a WAV we wrote match the data on disk. True when it changed."""
    with open(path, "r+b") as file:
        head = file.read(HEADER_SIZE)
        size = os.fstat(file.fileno()).st_size
        if len(head) < HEADER_SIZE or head[:4] != b"RIFF" or head[36:40] != b"data":
            if size < HEADER_SIZE:  # died before the header was written: make it empty
                file.seek(0)
                file.truncate()
                file.write(header(8000, 1, 0))
                return True
            raise WavError(f"{path.name} is not a WAV file this PBX wrote")
        (channels,) = struct.unpack_from("<H", head, 22)
        block = 2 * max(1, channels)
        data = size - HEADER_SIZE
        data -= data % block
        riff, recorded = struct.unpack_from("<I", head, 4)[0], struct.unpack_from("<I", head, 40)[0]
        if recorded == data and riff == 36 + data and size == HEADER_SIZE + data:
            return False
        file.truncate(HEADER_SIZE + data)
        file.seek(4)
        file.write(struct.pack("<I", 36 + data))
        file.seek(40)
        file.write(struct.pack("<I", data))
        return True
