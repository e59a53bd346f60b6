"""The REGISTER-peak benchmark's judging parts: the API poller (`bench/api_poller.py`)
and the verdict line of `bench/bench_anchored_calls.py`."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from bench import bench_anchored_calls as peak
from bench.api_poller import ApiPoller, PollResult, Sample
from bench.steady_sipp import Step

WHOLE = {"status": "Success", "extlist": [{"number": "3000"}, {"number": "3001"}]}


class Answers:
    """Stands in for PbxProcess.http: plays the given answers in turn (an exception is
    raised, a float is a delay before the next answer), then a whole list."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.paths: list[str] = []
        self.lock = threading.Lock()

    def http(self, path: str, **_kwargs: Any) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            self.paths.append(path)
            answer = self.answers.pop(0) if self.answers else WHOLE
        if isinstance(answer, float):
            time.sleep(answer)  # a slow server: only a lower bound is asserted
            answer = WHOLE
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, tuple):
            return answer
        return 200, {}, json.dumps(answer).encode()


def two_extensions(answer: dict[str, Any]) -> str:
    return "" if len(answer["extlist"]) == 2 else "short list"


def poll(pbx: Answers, count: int, rate: float = 50.0) -> list[Sample]:
    poller = ApiPoller(pbx, "tok", "extension/list", rate, 1.0, two_extensions)  # type: ignore[arg-type]
    poller.start()
    deadline = time.monotonic() + 10
    while len(poller.samples) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    poller.stop()
    assert len(poller.samples) >= count
    return poller.samples[:count]


def test_each_kind_of_failure_is_named() -> None:
    pbx = Answers(
        TimeoutError(),
        ConnectionRefusedError(),
        (503, {}, b""),
        (200, {}, b"<html>"),
        {"status": "Failed", "errno": "20006"},
        {"status": "Success", "extlist": []},
    )
    errors = [s.error for s in poll(pbx, 7)]
    assert errors == [
        "timeout", "ConnectionRefusedError", "HTTP 503", "not JSON", "errno 20006",
        "short list", "",
    ]  # fmt: skip
    assert pbx.paths[0] == "/api/v2.0.0/extension/list?token=tok"


def test_latency_counts_from_the_slot_so_a_stall_delays_the_requests_behind_it() -> None:
    samples = poll(Answers(0.3), 3, rate=20.0)  # slots 50 ms apart, the first takes 300 ms
    assert samples[0].latency >= 0.3
    assert samples[1].latency >= 0.25  # its slot came 50 ms in; it was sent after 300 ms
    assert abs(samples[1].slot - samples[0].slot - 0.05) < 1e-9


def test_the_window_keeps_the_requests_whose_slot_is_in_it() -> None:
    poller = ApiPoller(Answers(), "t", "extension/list", 10, 1.0, two_extensions)  # type: ignore[arg-type]
    poller.samples = [Sample(t, 0.01 * t) for t in (0.5, 1.0, 1.5, 2.0)]
    result = poller.result(1.0, 2.0)
    assert [s.slot for s in result.samples] == [1.0, 1.5]


def test_percentiles_and_errors_of_a_window() -> None:
    samples = [Sample(n, 0.001 * (n + 1)) for n in range(100)]
    samples[5].error = "timeout"
    result = PollResult("extension/list", 10, samples)
    assert result.latency_ms(0.5) == pytest.approx(50.0)
    assert result.latency_ms(0.99) == pytest.approx(99.0)
    assert result.latency_ms(1.0) == pytest.approx(100.0)
    assert result.errors == {"timeout": 1}
    assert "1 errors (1 timeout)" in result.describe()


def media(calls: int, *, lost: int = 0, jitter: float = 0.5, rate: float = 1.0) -> dict[str, Any]:
    sent = int(2 * 50 * calls * 10 * rate)
    return {"calls": calls, "sent": sent, "received": sent - lost, "seconds": 10.0,
            "jitter_p99_ms": jitter}  # fmt: skip


def registers(*why: str) -> Step:
    return Step("kilopbx", peak.REGISTER_RATE, 1000, successful=1000, why=list(why))


def api(p99_ms: float, *errors: str) -> PollResult:
    samples = [Sample(n, p99_ms / 1000) for n in range(100)]
    for sample, error in zip(samples, errors, strict=False):
        sample.error = error
    return PollResult("extension/list", 10, samples)


def test_the_verdict_passes_only_when_every_target_is_met_on_the_full_load() -> None:
    assert ": PASS [" in peak.verdict(200, media(200), registers(), api(20))
    cases = {
        "loss 0.100 %": media(200, lost=200),
        "added jitter p99 stream 5.00 ms": media(200, jitter=5.0),
        "only 150 of 200 calls set up": media(150),
        "the generator offered 19,000 of 20,000 packets/s": media(200, rate=0.95),
    }
    for reason, result in cases.items():
        line = peak.verdict(200, result, registers(), api(20))
        assert ": FAIL: " in line and reason in line, line
    slow = peak.verdict(200, media(200), registers(), api(50))
    assert "FAIL: extension/list p99 50.0 ms" in slow
    failing = peak.verdict(200, media(200), registers(), api(20, "timeout"))
    assert "FAIL: 1 extension/list errors" in failing
    held = peak.verdict(200, media(200), registers("12 retransmissions"), api(20))
    assert "FAIL: REGISTER load not held (12 retransmissions)" in held
    no_figures = peak.verdict(200, media(200), None, api(20))
    assert peak.REGISTER_RATE == 0 or "no REGISTER figures" in no_figures


def test_run_all_runs_the_peak_by_name_and_after_the_default_run() -> None:
    from bench.run_all import planned

    everything = [title for title, _script, _knobs in planned(set())]
    default = everything.index("bench_anchored_calls.py")
    assert everything[default + 1].startswith("bench_anchored_calls.py [peak: ")
    [(_title, script, knobs)] = planned({"peak"})
    assert script.name == "bench_anchored_calls.py"
    assert knobs["BENCH_ANCHORED_REGISTER_RATE"] == "3000"
    assert knobs["BENCH_ANCHORED_CALLS"] == "200"
    assert [t for t, _s, _k in planned({"bench_anchored_calls"})] == ["bench_anchored_calls.py"]


def test_run_all_holds_the_line_rate_targets_for_five_minutes() -> None:
    from bench.run_all import planned

    [(_title, calls, knobs)] = planned({"calls-sustained"})
    assert calls.name == "bench_steady_calls.py"
    assert knobs == {"BENCH_STEADY_CALL_RATES": "300", "BENCH_STEADY_SECONDS": "300"}
    [(_title, register, knobs)] = planned({"register-sustained"})
    assert register.name == "bench_steady_register.py"
    assert knobs["BENCH_STEADY_REGISTER_RATES"] == "3000"
    assert float(knobs["BENCH_STEADY_SECONDS"]) >= 300
