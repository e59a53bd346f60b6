"""sipp phones for call tests: register one on a port, then answer (or refuse) there."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.sipp.runner import SIPP, User, write_users
from tests.harness import HOST, PbxProcess, free_port

HERE = Path(__file__).resolve().parent / "scenarios"
REGISTER = Path(__file__).resolve().parent.parent / "sipp" / "register_auth.xml"
UNREGISTER = Path(__file__).resolve().parent.parent / "sipp" / "unregister.xml"
PASSWORD = "Kx7mPq2wRt9vBn4Z"
EXTENSIONS = ("2001", "2002", "2003")
WAIT = 30.0


def add_extensions(
    pbx: PbxProcess, token: str, numbers: tuple[str, ...] = EXTENSIONS, *, voicemail: bool = False
) -> None:
    """Extensions whose number is also their SIP user name, all with ``PASSWORD``.
    Their voicemail is off unless asked (by default a busy or unanswered extension
    sends its callers to voicemail, and call tests expect the busy or 480 answer)."""
    for number in numbers:
        body = {
            "number": number,
            "username": f"User {number}",
            "registername": number,
            "registerpassword": PASSWORD,
            "hasvoicemail": "on" if voicemail else "off",
        }
        answer = pbx.api("extension/add", body, token=token)
        assert answer["status"] == "Success", answer


def _common(pbx: PbxProcess, port: int) -> list[str]:
    return [
        SIPP, f"{HOST}:{pbx.sip_port}", "-i", HOST, "-p", str(port), "-t", "u1",
        "-nostdin", "-trace_err", "-timeout", f"{int(WAIT)}s", "-timeout_error",
    ]  # fmt: skip


def register(
    pbx: PbxProcess,
    number: str,
    port: int,
    workdir: Path,
    scenario: Path = REGISTER,
    expires: int = 300,
) -> None:
    users = write_users(
        workdir / f"reg-{number}-{port}.csv", [User(number, number, PASSWORD)], expires
    )
    command = [*_common(pbx, port), "-sf", str(scenario), "-inf", str(users), "-m", "1"]
    done = subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, errors="replace", timeout=WAIT
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def unregister(pbx: PbxProcess, number: str, port: int, workdir: Path) -> None:
    register(pbx, number, port, workdir, UNREGISTER)


@dataclass
class Sipp:
    process: subprocess.Popen[str]
    port: int
    workdir: Path

    def finish(self, timeout: float = WAIT) -> str:
        try:
            out, _ = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
            raise AssertionError(f"sipp did not finish:\n{out[-3000:]}") from None
        assert self.process.returncode == 0, out[-3000:]
        return out

    def outcome(self, timeout: float = WAIT) -> tuple[int, str]:
        try:
            out, _ = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
        return self.process.returncode, out

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


def start(
    pbx: PbxProcess,
    scenario: str,
    workdir: Path,
    *,
    port: int | None = None,
    extra: list[str] | None = None,
    variables: dict[str, str] | None = None,
) -> Sipp:
    port = port or free_port(udp_too=True)
    command = [*_common(pbx, port), "-sf", str(HERE / scenario)]
    if "-m" not in (extra or []):  # one call unless told how many
        command += ["-m", "1"]
    for name, value in (variables or {}).items():
        command += ["-set", name, value]
    command += extra or []
    process = subprocess.Popen(
        command,
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",  # sipp may echo a stray byte
    )
    return Sipp(process, port, workdir)


def call(
    pbx: PbxProcess,
    caller: str,
    dialled: str,
    workdir: Path,
    *,
    scenario: str = "uac_call.xml",
    pts: str = "0 8",
    talk_ms: int = 500,
    rtp: int = 9,
    extra: list[str] | None = None,
) -> Sipp:
    """``rtp``: the port the caller's SDP names (9, discard, when nobody listens)."""
    variables = {"caller": caller, "pts": pts, "rtp": str(rtp)}
    auth = ["-au", caller, "-ap", PASSWORD, "-s", dialled, "-d", str(talk_ms)]
    # sipp signs sip:host:port unless told the Request-URI, which we check
    auth += ["-auth_uri", f"{dialled}@{HOST}:{pbx.sip_port}"]
    return start(pbx, scenario, workdir, variables=variables, extra=auth + (extra or []))


def answer(
    pbx: PbxProcess,
    port: int,
    workdir: Path,
    *,
    scenario: str = "uas_answer.xml",
    pts: str = "0",
    rtp: int = 9,
    talk_ms: int = 500,
    extra: list[str] | None = None,
) -> Sipp:
    """A callee registered from ``port``: by default it rings, answers and waits for
    the caller's BYE (``uas_hangup.xml`` hangs up itself, ``uas_ring.xml`` rings until
    cancelled, ``uas_busy.xml`` answers 486)."""
    answers = scenario in (
        "uas_answer.xml",
        "uas_answer_late.xml",
        "uas_early.xml",
        "uas_hangup.xml",
        "uas_hold_hangup.xml",
        "uas_held.xml",
        "uas_held_twice.xml",
        "uas_reinvites.xml",
    )
    variables = {"pts": pts, "rtp": str(rtp)} if answers else {}
    options = ["-d", str(talk_ms), *(extra or [])]
    return start(pbx, scenario, workdir, port=port, variables=variables, extra=options)


def pbx_media_port(workdir: Path, role: str, timeout: float = 10.0) -> int:
    """The port of the PBX's SDP as sipp saw it (written by the scenario's ereg)."""
    path = workdir / f"pbx-media-{role}.txt"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        if text.strip():
            return int(text.split()[-1])
        time.sleep(0.05)
    raise AssertionError(f"sipp did not report the PBX media port for the {role}")


def wait_bound(port: int, timeout: float = 10.0) -> None:
    """Wait until a UDP socket is bound on ``port`` (a sipp phone just started): a
    request the PBX sends before that finds no one and fails at once."""
    wanted = f":{port:04X}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = Path("/proc/net/udp").read_text().splitlines()[1:]
        if any(line.split()[1].endswith(wanted) for line in lines):
            return
        time.sleep(0.02)
    raise AssertionError(f"nothing listens on UDP port {port}")


def shown(pbx: PbxProcess, token: str, expected: list[tuple[str, str]]) -> dict[str, Any]:
    """The one call in progress, once ``call/query`` lists exactly ``expected`` as its
    members' (number, memberstatus); fails after 10 s."""
    deadline = time.monotonic() + 10.0
    while True:
        calls = pbx.api("call/query", {"type": "internal"}, token=token)["calls"]
        members = [
            (m["ext"]["number"], m["ext"]["memberstatus"]) for c in calls for m in c["members"]
        ]
        if len(calls) == 1 and members == expected:
            return dict(calls[0])
        assert time.monotonic() < deadline, calls
        time.sleep(0.05)
