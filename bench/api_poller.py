"""An API client for the load benchmarks: one endpoint at a steady rate, in a thread.

It sends one request at a time (a new TCP connection each, the reference client
pattern), each with its own timeout, on a fixed schedule of ``rate`` requests a second.
A request's latency counts from its slot in the schedule, not from when it was sent:
when one answer is slow, the requests that had to wait for it are slow too (a client
that only timed what it sent would hide a stall behind a single sample). Only requests
whose slot falls in the measured window count.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.harness import PbxProcess

from bench.bench_config_api import percentile


@dataclass
class Sample:
    slot: float  # time.monotonic() of the request's place in the schedule
    latency: float  # seconds from the slot to the full answer (or the failure)
    error: str = ""  # empty when the answer was a complete Success


@dataclass
class PollResult:
    endpoint: str
    rate: float
    samples: list[Sample] = field(default_factory=list)

    @property
    def errors(self) -> Counter[str]:
        return Counter(s.error for s in self.samples if s.error)

    def latency_ms(self, fraction: float) -> float:
        """The latency at ``fraction`` (nearest rank) of every request, failures
        included (a timeout counts as its timeout)."""
        if not self.samples:
            return float("nan")
        return 1000 * percentile([s.latency for s in self.samples], fraction)

    def describe(self) -> str:
        if not self.samples:
            return f"{self.endpoint}: no request in the measured window"
        errors = self.errors
        kinds = f" ({', '.join(f'{n} {kind}' for kind, n in errors.most_common())})"
        return (
            f"{self.endpoint}: {len(self.samples)} requests at {self.rate:g}/s, one at a "
            f"time, {sum(errors.values())} errors{kinds if errors else ''}; latency from "
            f"each request's slot p50 {self.latency_ms(0.5):.1f} ms, p99 "
            f"{self.latency_ms(0.99):.1f} ms, max {self.latency_ms(1.0):.1f} ms"
        )


class ApiPoller:
    """Polls ``endpoint`` from start() until stop(); ``check`` judges each answer
    (returns an error kind, or "" when it is right)."""

    def __init__(
        self,
        pbx: PbxProcess,
        token: str,
        endpoint: str,
        rate: float,
        timeout: float,
        check: Callable[[dict[str, Any]], str],
    ) -> None:
        self.pbx, self.token, self.endpoint = pbx, token, endpoint
        self.rate, self.timeout, self.check = rate, timeout, check
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="api-poller", daemon=True)

    def start(self) -> ApiPoller:
        if self.rate > 0:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self.timeout + 5)

    def result(self, start: float, end: float) -> PollResult:
        """The requests whose slot is in [start, end) (time.monotonic())."""
        window = [s for s in self.samples if start <= s.slot < end]
        return PollResult(self.endpoint, self.rate, window)

    def _run(self) -> None:
        interval = 1.0 / self.rate
        first = time.monotonic()
        n = 0
        while not self._stop.is_set():
            slot = first + n * interval
            n += 1
            if self._stop.wait(max(0.0, slot - time.monotonic())):
                break
            self.samples.append(Sample(slot, 0.0, self._request()))
            self.samples[-1].latency = time.monotonic() - slot

    def _request(self) -> str:
        path = f"/api/v2.0.0/{self.endpoint}?token={self.token}"
        try:
            status, _headers, payload = self.pbx.http(
                path, body=b"{}", headers={"Content-Type": "application/json"},
                timeout=self.timeout,
            )  # fmt: skip
        except TimeoutError:
            return "timeout"
        except (OSError, http.client.HTTPException) as exc:
            return type(exc).__name__
        if status != 200:
            return f"HTTP {status}"
        try:
            answer = json.loads(payload)
        except ValueError:
            return "not JSON"
        if answer.get("status") != "Success":
            return f"errno {answer.get('errno')}"
        return self.check(answer)
