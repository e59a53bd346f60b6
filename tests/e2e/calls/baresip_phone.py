"""baresip as a test phone: its config (tone from a WAV file, what it hears dumped to
WAV by the sndfile module) and its ctrl_tcp control channel (netstring JSON)."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import wave
from pathlib import Path
from typing import Any

from tests.media_audio import tone

BARESIP = "/usr/bin/baresip"
WAIT = 15.0


def write_tone(path: Path, frequency: float, seconds: int) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(tone(frequency, 8000, seconds * 1000))


def read_wav(path: Path) -> tuple[bytes, int]:
    with wave.open(str(path), "rb") as data:
        return data.readframes(data.getnframes()), data.getframerate()


class Baresip:
    def __init__(
        self,
        work: Path,
        *,
        number: str,
        password: str,
        listen: str,
        pbx_port: int,
        control_port: int,
        frequency: float,
        auto_answer: bool = False,
    ) -> None:
        self.dir = work / f"baresip-{number}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dumps = self.dir / "dumps"
        self.dumps.mkdir(exist_ok=True)
        self.control_port = control_port
        source = self.dir / "tone.wav"
        write_tone(source, frequency, 20)
        (self.dir / "config").write_text(
            "\n".join(
                [
                    "poll_method epoll",
                    f"sip_listen {listen}",
                    "module_path /usr/lib/baresip/modules",
                    "module g711.so",
                    "module aufile.so",
                    "module sndfile.so",
                    "module_app account.so",
                    "module_app menu.so",
                    "module_app ctrl_tcp.so",
                    f"ctrl_tcp_listen 127.0.0.1:{control_port}",
                    f"audio_source aufile,{source}",
                    "audio_player aubridge,nil",
                    f"snd_path {self.dumps}",
                    "",
                ]
            )
        )
        answer = ";answermode=auto" if auto_answer else ""
        (self.dir / "accounts").write_text(
            f"<sip:{number}@127.0.0.1:{pbx_port};transport=udp>;auth_user={number}"
            f";auth_pass={password};regint=120{answer}\n"
        )
        self.log = self.dir / "baresip.log"
        log = open(self.log, "wb")  # noqa: SIM115 - handed to the child
        self.process = subprocess.Popen(
            [BARESIP, "-f", str(self.dir)], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self.sock: socket.socket | None = None
        self.events: list[dict[str, Any]] = []
        self._buffer = b""

    def connect(self) -> None:
        deadline = time.monotonic() + WAIT
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.control_port), 1.0)
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def command(self, command: str, params: str = "") -> None:
        assert self.sock is not None
        body = json.dumps({"command": command, "params": params, "token": command}).encode()
        self.sock.sendall(str(len(body)).encode() + b":" + body + b",")

    def wait_event(self, kind: str, timeout: float = WAIT) -> dict[str, Any]:
        """The next event of this type baresip reports (REGISTER_OK, CALL_ESTABLISHED...)."""
        assert self.sock is not None
        deadline = time.monotonic() + timeout
        while True:
            for index, event in enumerate(self.events):
                if event.get("type") == kind:
                    del self.events[: index + 1]
                    return event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {kind}; saw {self.events}")
            self.sock.settimeout(remaining)
            self._buffer += self.sock.recv(65536)
            while b":" in self._buffer:
                size, _, rest = self._buffer.partition(b":")
                if len(rest) < int(size) + 1:
                    break
                message = json.loads(rest[: int(size)])
                self._buffer = rest[int(size) + 1 :]
                if message.get("event"):
                    self.events.append(message)

    def heard(self) -> tuple[bytes, int]:
        """The decoded audio of its last call (sndfile's dump-*-dec.wav)."""
        dumps = sorted(self.dumps.glob("dump-*-dec.wav"))
        assert dumps, list(self.dumps.iterdir())
        return read_wav(dumps[-1])

    def stop(self) -> None:
        if self.sock is not None:
            self.sock.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
