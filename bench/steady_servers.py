"""The servers the steady-state benchmarks load: KiloPBX (``kilopbx serve``) and, for
comparison, Debian's Kamailio with the configurations in ``bench/kamailio/``.

Both get the same 1000 users (``user1000`` .. ``user1999``) with the same passwords:
KiloPBX through ``extension/add`` (numbers 21000..21999), Kamailio in an SQLite
subscriber table with plaintext passwords, as Debian's default configuration reads them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

from tests.harness import PbxProcess, free_port

from bench.steady_proc import CORES, descendants
from bench.steady_sipp import HOST

HERE = Path(__file__).resolve().parent
FIRST_USER, USERS, FIRST_NUMBER = 1000, 1000, 21000
READY_TIMEOUT = 30.0


def password(user: int) -> str:
    """16 characters, letters and single digits alternating: KiloPBX's policy accepts it
    (mixed case, a digit, no run of three digits, neither the number nor the name)."""
    digest = hashlib.md5(f"kilopbx-bench:{user}".encode()).hexdigest()
    out = []
    for i, char in enumerate(digest[:16]):
        value = int(char, 16)
        if i % 2:
            out.append(str(value % 10))
        else:
            letter = "abcdefghjkmnpqrstuvwxyz"[value]
            out.append(letter.upper() if i % 4 == 0 else letter)
    return "".join(out)


def users() -> list[tuple[str, str]]:
    return [(f"user{n}", password(n)) for n in range(FIRST_USER, FIRST_USER + USERS)]


def write_injection(path: Path) -> Path:
    """sipp's injection file: the user, then the whole authentication keyword (sipp
    3.6 does not expand fields nested inside [authentication ...])."""
    lines = ["SEQUENTIAL"]
    lines += [f"{u};[authentication username={u} password={p}];" for u, p in users()]
    path.write_text("\n".join(lines) + "\n")
    return path


def sip_answers(port: int, timeout: float = READY_TIMEOUT) -> bool:
    """True once something on 127.0.0.1:port answers an OPTIONS."""
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((HOST, 0))
        probe.settimeout(0.3)
        local = probe.getsockname()[1]
        n = 0
        while time.monotonic() < deadline:
            n += 1
            probe.sendto(
                (
                    f"OPTIONS sip:{HOST}:{port} SIP/2.0\r\n"
                    f"Via: SIP/2.0/UDP {HOST}:{local};branch=z9hG4bK-ready-{n}\r\n"
                    f"Max-Forwards: 70\r\nFrom: <sip:probe@{HOST}>;tag=r{n}\r\n"
                    f"To: <sip:{HOST}:{port}>\r\nCall-ID: ready-{n}@{HOST}\r\n"
                    f"CSeq: {n} OPTIONS\r\nContent-Length: 0\r\n\r\n"
                ).encode(),
                (HOST, port),
            )
            try:
                if probe.recv(65535).startswith(b"SIP/2.0 "):
                    return True
            except TimeoutError:
                pass
    return False


class Kamailio:
    """A fresh Kamailio in the foreground (one UDP worker, Debian's default memory
    manager, 512 MB shared memory), stopped by its PID."""

    def __init__(self, config: str, workdir: Path, defines: list[str]) -> None:
        self.port = free_port(udp_too=True)
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        command = [
            "kamailio", "-DD", "-E", "-m", "512", "-M", "16", "-Y", str(workdir),
            "-A", f"LISTEN=udp:{HOST}:{self.port}", *defines, "-f", str(HERE / "kamailio" / config),
        ]  # fmt: skip
        with open(workdir / "kamailio.log", "wb") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        if not sip_answers(self.port):
            self.stop()
            raise RuntimeError(f"kamailio did not start, see {workdir / 'kamailio.log'}")

    @staticmethod
    def available() -> bool:
        return shutil.which("kamailio") is not None

    @classmethod
    def registrar(cls, workdir: Path) -> Kamailio:
        workdir.mkdir(parents=True, exist_ok=True)
        database = workdir / "subscriber.sqlite"
        _subscribers(database)
        return cls("registrar.cfg", workdir, ["-A", f'DBURL="sqlite://{database}"'])

    @classmethod
    def proxy(cls, workdir: Path, target_port: int) -> Kamailio:
        defines = ["-A", f'TARGET_HOST="{HOST}"', "-A", f"TARGET_PORT={target_port}"]
        return cls("proxy.cfg", workdir, defines)

    def pids(self) -> list[int]:
        return descendants(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _subscribers(path: Path) -> None:
    """Kamailio's version and subscriber tables (its db_sqlite schema) with our users."""
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            CREATE TABLE version (id INTEGER PRIMARY KEY NOT NULL,
                table_name VARCHAR(32) NOT NULL UNIQUE, table_version INTEGER DEFAULT 0 NOT NULL);
            INSERT INTO version (table_name, table_version) VALUES ('version', 1);
            INSERT INTO version (table_name, table_version) VALUES ('subscriber', 7);
            CREATE TABLE subscriber (id INTEGER PRIMARY KEY NOT NULL,
                username VARCHAR(64) DEFAULT '' NOT NULL, domain VARCHAR(64) DEFAULT '' NOT NULL,
                password VARCHAR(64) DEFAULT '' NOT NULL, ha1 VARCHAR(128) DEFAULT '' NOT NULL,
                ha1b VARCHAR(128) DEFAULT '' NOT NULL, UNIQUE (username, domain));
            CREATE INDEX subscriber_username_idx ON subscriber (username);
            """
        )
        db.executemany(
            "INSERT INTO subscriber (username, domain, password) VALUES (?, ?, ?)",
            [(u, HOST, p) for u, p in users()],
        )
    path.chmod(0o644)


class KiloPbx:
    """``kilopbx serve`` as the harness of the end-to-end tests starts it, with the
    per-address limits lifted (sipp is one address sending thousands of requests a
    second), qualify off (sipp does not answer OPTIONS), warnings only, one media
    worker per core."""

    def __init__(self, workdir: Path, profile: str | None = None) -> None:
        env = {
            "KILOPBX_SIP_FLOOD_LIMIT": "0",
            "KILOPBX_SIP_MAX_TRANSACTIONS_PER_SOURCE": "0",
            "KILOPBX_REGISTRAR_QUALIFY_INTERVAL": "0",
            "KILOPBX_LOG_LEVEL": "WARNING",
            # the steady call steps register their callee for a whole step
            "KILOPBX_REGISTRAR_MAX_EXPIRES": "86400",
            "KILOPBX_MEDIA_WORKERS": str(CORES),
        }
        # BENCH_PROFILE=FILE: cProfile of the signalling loop, written when it stops
        profile = profile or os.environ.get("BENCH_PROFILE")
        args = ["--profile", profile] if profile else None
        self.pbx = PbxProcess(workdir / "pbx", env, args).start()
        self.port = self.pbx.sip_port
        self.token = self.pbx.login()

    def add_users(self) -> None:
        for n, (user, secret) in enumerate(users()):
            body = {
                "number": str(FIRST_NUMBER + n),
                "username": f"Bench {user}",
                "registername": user,
                "registerpassword": secret,
            }
            answer = self.pbx.api("extension/add", body, token=self.token)
            if answer.get("status") != "Success":
                raise RuntimeError(f"extension/add {user}: {answer}")

    @property
    def pid(self) -> int:
        assert self.pbx.proc is not None
        return self.pbx.proc.pid

    def signalling(self) -> list[int]:
        return [self.pid]

    def workers(self) -> list[int]:
        return [p for p in descendants(self.pid) if p != self.pid]

    def stop(self) -> None:
        self.pbx.stop()
