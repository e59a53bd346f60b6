"""What one `extension/list` of 1002 extensions costs the PBX's event loop.

Starts a PBX (tests/harness.py), creates 1002 extensions through extension/add, registers
1000 of them once with sipp (so the list merges real registrations), then sends
`extension/list` one request at a time and reads the CPU time of the PBX's main thread
(the event loop's; /proc/PID/task/PID/stat, utime+stime) around each round. A round of
`heartbeat` requests gives the cost of the HTTP exchange alone (accept, parse, token,
envelope), so the difference is what building the list costs. Quickest of several
rounds: the machine is shared and a slow round only says something else ran.

    .venv/bin/python bench/bench_extension_list.py
    .venv/bin/python bench/bench_extension_list.py --profile FILE   # cProfile, pure Python

``--profile`` runs the PBX with KILOPBX_PURE_PYTHON=1 and ``serve --profile FILE``, so
the stats show the interpreted call path of the requests (and only a little idle loop).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

import kilopbx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.e2e.sipp.runner import run_sipp, write_users
from tests.harness import HOST, PbxProcess, free_port

from bench.bench_register import create_extensions

ROUNDS = int(os.environ.get("BENCH_LIST_ROUNDS", "7"))
REQUESTS = int(os.environ.get("BENCH_LIST_REQUESTS", "200"))
EXTENSIONS = 1002
REGISTERED = 1000
CLK_TCK = os.sysconf("SC_CLK_TCK")


def loop_seconds(pid: int) -> float:
    """CPU time of the process's main thread (the event loop runs there)."""
    with open(f"/proc/{pid}/task/{pid}/stat") as file:
        text = file.read()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def ask(pbx: PbxProcess, endpoint: str, token: str) -> bytes:
    conn = http.client.HTTPConnection(HOST, pbx.http_port, timeout=10)
    try:
        conn.request("POST", f"/api/v2.0.0/{endpoint}?token={token}", body=b"{}")
        return conn.getresponse().read()
    finally:
        conn.close()


def round_ms(pbx: PbxProcess, pid: int, endpoint: str, token: str) -> float:
    """Loop CPU per request over one round of REQUESTS sequential requests."""
    before = loop_seconds(pid)
    for _ in range(REQUESTS):
        answer = ask(pbx, endpoint, token)
        assert answer.startswith(b'{"status":"Success"'), answer[:200]
    return (loop_seconds(pid) - before) * 1000 / REQUESTS


def main(argv: list[str]) -> int:
    profile = argv[1] if len(argv) > 1 and argv[0] == "--profile" else None
    env = {
        "KILOPBX_SIP_FLOOD_LIMIT": "0",  # one sipp source sends far more than a phone
        "KILOPBX_SIP_MAX_TRANSACTIONS_PER_SOURCE": "0",
        "KILOPBX_REGISTRAR_QUALIFY_INTERVAL": "0",  # sipp does not answer OPTIONS
        "KILOPBX_LOG_LEVEL": "WARNING",
    }
    if profile:
        env["KILOPBX_PURE_PYTHON"] = "1"
    args = ["--profile", str(Path(profile).resolve())] if profile else []
    with tempfile.TemporaryDirectory(prefix="bench-list-") as tmp:
        work = Path(tmp)
        pbx = PbxProcess(work / "pbx", env, args).start()
        try:
            assert pbx.proc is not None
            pid = pbx.proc.pid
            users = create_extensions(pbx, EXTENSIONS)
            csv = write_users(work / "users.csv", users[:REGISTERED])
            sipp = run_sipp(
                "register_auth.xml",
                csv,
                pbx.sip_port,
                workdir=work / "register",
                calls=REGISTERED,
                rate=500,
                local_port=free_port(udp_too=True),
                timeout=60,
            )
            token = pbx.login()
            build = "pure Python" if profile else kilopbx.BUILD
            listed = json.loads(ask(pbx, "extension/list", token))["extlist"]
            registered = sum(entry["status"] == "Registered" for entry in listed)
            answer = ask(pbx, "extension/list", token)
            print(
                f"conditions: {platform.node()}, {os.cpu_count()} CPUs, Python "
                f"{platform.python_version()}, {build} build, "
                f"{len(listed)} extensions ({registered} registered by sipp, "
                f"{sipp.successful} ok), answer {len(answer)} bytes (sha256 "
                f"{hashlib.sha256(answer).hexdigest()[:16]}), {ROUNDS} rounds of "
                f"{REQUESTS} sequential requests, loadavg {load_average()}"
            )
            for _ in range(3):  # warm-up: first-use imports and caches
                ask(pbx, "extension/list", token)
            heartbeat = [round_ms(pbx, pid, "heartbeat", token) for _ in range(ROUNDS)]
            listing = [round_ms(pbx, pid, "extension/list", token) for _ in range(ROUNDS)]
            print(
                f"loop CPU per request, quickest of {ROUNDS} rounds (all rounds): "
                f"heartbeat {min(heartbeat):.2f} ms ({fmt(heartbeat)}); extension/list "
                f"{min(listing):.2f} ms ({fmt(listing)}); the list itself "
                f"{min(listing) - min(heartbeat):.2f} ms; loadavg after {load_average()}"
            )
        finally:
            pbx.stop()
    return 0


def fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def load_average() -> str:
    with open("/proc/loadavg") as file:
        return " ".join(file.read().split()[:3])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
