"""Run sipp against a test PBX on 127.0.0.1 and read its final statistics."""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIPP = "/usr/bin/sipp"
HOST = "127.0.0.1"


@dataclass(frozen=True)
class User:
    number: str
    auth_name: str
    password: str


@dataclass
class SippResult:
    successful: int
    failed: int
    retransmissions: int
    elapsed: float
    returncode: int
    output: str
    errors: str

    @property
    def rate(self) -> float:
        return self.successful / self.elapsed if self.elapsed > 0 else 0.0


def write_users(path: Path, users: list[User], expires: int = 300) -> Path:
    """An injection file: number; authentication keyword; Expires."""
    lines = ["SEQUENTIAL"]
    for user in users:
        auth = f"[authentication username={user.auth_name} password={user.password}]"
        lines.append(f"{user.number};{auth};{expires}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _elapsed(output: str) -> float | None:
    """Start to end of the run from sipp's last statistics screen (its "Elapsed Time"
    counter restarts at every periodic reset, the epoch stamps do not)."""
    starts = re.findall(r"Start Time\s*\|.*?(\d+\.\d+)\s*$", output, re.MULTILINE)
    ends = re.findall(r"Current Time\s*\|.*?(\d+\.\d+)\s*$", output, re.MULTILINE)
    if not starts or not ends:
        return None
    return float(ends[-1]) - float(starts[-1])


def _retransmissions(output: str) -> int:
    return sum(int(m) for m in re.findall(r"REGISTER -+>\s+\d+\s+(\d+)", output))


def _counter(output: str, name: str) -> int:
    matches = re.findall(rf"{name}\s*\|\s*(\d+)\s*\|\s*(\d+)", output)
    return int(matches[-1][1]) if matches else 0


def run_sipp(
    scenario: str,
    users_csv: Path,
    sip_port: int,
    *,
    workdir: Path,
    calls: int,
    rate: int = 200,
    transport: str = "u1",
    local_port: int | None = None,
    local_ip: str = HOST,
    limit: int = 500,
    timeout: float = 60.0,
) -> SippResult:
    """Play ``calls`` calls of ``scenario`` (a file in this directory) at ``rate``/s."""
    workdir.mkdir(parents=True, exist_ok=True)
    command = [
        SIPP,
        f"{HOST}:{sip_port}",
        "-sf",
        str(HERE / scenario),
        "-inf",
        str(users_csv),
        "-t",
        transport,
        "-i",
        local_ip,
        "-m",
        str(calls),
        "-r",
        str(rate),
        "-rp",
        "1000",
        "-l",
        str(limit),
        "-timeout",
        f"{int(timeout)}s",
        "-timeout_error",
        "-recv_timeout",
        "10s",
        "-nostdin",
        "-trace_err",
    ]
    if local_port is not None:
        command += ["-p", str(local_port)]
    started = time.monotonic()
    try:
        proc = subprocess.run(
            command, cwd=workdir, capture_output=True, text=True, timeout=timeout + 15
        )
        returncode, output = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        returncode = -1
        output = str(exc.stdout or "") + str(exc.stderr or "")
    elapsed = _elapsed(output) or (time.monotonic() - started)
    errors = "\n".join(p.read_text(errors="replace")[-3000:] for p in workdir.glob("*_errors.log"))
    return SippResult(
        successful=_counter(output, "Successful call"),
        failed=_counter(output, "Failed call"),
        retransmissions=_retransmissions(output),
        elapsed=elapsed,
        returncode=returncode,
        output=output[-4000:],
        errors=errors,
    )
