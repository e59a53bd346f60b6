"""Configuration API benchmark: add 1000 extensions through the API, time
`extension/query` with "all", then time `extension/delete` of all of them (with every
feature loaded and referring to some of them, each feature cleaning up after the deleted
extensions in the same transaction).

Starts a real `kilopbx serve` (tests/harness.py's PbxProcess) in a temporary directory,
talks to it over HTTP on 127.0.0.1, one request per connection as the reference clients
do. Run: .venv/bin/python bench/bench_config_api.py [--extensions 1000] [--queries 50]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.reference_helpers import refer_to_extensions
from tests.harness import EventReceiver, PbxProcess


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def extension_body(index: int) -> dict[str, str]:
    number = str(3000 + index)
    return {
        "number": number,
        "username": f"Bench User {index}",
        "registername": f"bench{number}",
        "registerpassword": f"Kq7wLp{index % 10}xVz9bKdMt",
        "email": f"user{index}@bench.example",
        "maxregistrations": "2",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--extensions", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kilopbx-bench-") as tmp:
        # a live event receiver, as in a real deployment: every add sends a ConfigChange
        receiver = EventReceiver().start()
        pbx = PbxProcess(Path(tmp) / "pbx", {"KILOPBX_LOG_LEVEL": "WARNING"}).start()
        try:
            token = pbx.login(port=receiver.port)
            # the first-start defaults would count against the capacity
            pbx.api("extension/delete", {"number": "all"}, token=token)

            started = time.perf_counter()
            for index in range(args.extensions):
                answer = pbx.api("extension/add", extension_body(index), token=token)
                assert answer == {"status": "Success"}, (index, answer)
            add_total = time.perf_counter() - started

            info = pbx.api("deviceinfo/query", token=token)["deviceinfo"]
            # measure queries in steady state, once the add events have been delivered
            expected = args.extensions + 4
            receiver.wait_for(lambda events: len(events) >= expected, timeout=120)
            timings = []
            for _ in range(args.queries):
                begin = time.perf_counter()
                answer = pbx.api("extension/query", {"number": "all"}, token=token)
                timings.append((time.perf_counter() - begin) * 1000)
                assert len(answer["extinfos"]) == args.extensions
            delivered = len(receiver.named("ConfigChange"))

            # every feature refers to some of them, so the delete has clean-up to do
            numbers = [str(3000 + index) for index in range(args.extensions)]
            refer_to_extensions(pbx, token, numbers[:: max(1, args.extensions // 20)])
            begin = time.perf_counter()
            status, _headers, payload = pbx.http(
                f"/api/v2.0.0/extension/delete?token={token}",
                body=json.dumps({"number": "all"}).encode(),
                headers={"Content-Type": "application/json"},
                timeout=120,  # the API helper's 10 s is too short for a slow delete
            )
            delete_total = time.perf_counter() - begin
            assert (status, json.loads(payload)) == (200, {"status": "Success"}), payload
            assert pbx.api("extension/list", token=token)["extlist"] == []
        finally:
            pbx.stop()
            receiver.stop()

    print("KiloPBX configuration API benchmark")
    print(f"  conditions: Python {platform.python_version()} on {platform.platform()},")
    print(f"              {os.cpu_count()} CPUs, SQLite in a temp dir, HTTP on 127.0.0.1,")
    print("              one request per TCP connection, sequential client,")
    print(f"              one event session ({delivered} ConfigChange events delivered)")
    print(f"  extensionstatus after adds: {info['extensionstatus']}")
    print(
        f"  extension/add x{args.extensions}: {add_total:.2f} s total, "
        f"{add_total / args.extensions * 1000:.1f} ms per add"
    )
    print(
        f"  extension/query all ({args.extensions} extensions) x{args.queries}: "
        f"p50 {statistics.median(timings):.1f} ms, p99 {percentile(timings, 0.99):.1f} ms, "
        f"max {max(timings):.1f} ms"
    )
    print(f"  extension/delete all ({args.extensions} extensions): {delete_total * 1000:.0f} ms")


if __name__ == "__main__":
    main()
