"""Call control under load: API latency of call/query and call/hold (with its
re-INVITE) while 200 calls are live, then blind transfers per second, then park and
retrieve cycles per second.

A `kilopbx serve` with three extensions; sipp phones on loopback: 2002 answers and
takes re-INVITEs, 2003 answers transfers, 2001 places BENCH_CC_CALLS calls that stay
up (no RTP: the RTP timeout is off). Then, one request at a time:
`call/query` by `callid` and for all calls (`type`), `call/hold` and `call/unhold`
of random calls, and `call/transfer` of BENCH_CC_TRANSFERS calls to 2003, counted
until 2003 has answered them all. Last, BENCH_CC_PARKS other calls in rounds of
20 (the parking slots): `call/callpark` of each caller, then 20 phones of 2003 dial
`*71<slot>` at once, each cycle counted when the retriever's INVITE is answered
(the PBX answers it once the parked party is bridged to it). Then the transferred
calls again, each retrieved by `call/dial` from 2003 to the slot, counted once the
call shows the parked party and 2003 answered.

    .venv/bin/python bench/bench_call_control.py   # BENCH_CC_CALLS=200
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.e2e.calls.dialog_phone import TalkingCaller
from tests.e2e.calls.peers import add_extensions, answer, call, register
from tests.harness import PbxProcess, free_port

from kilopbx.engine.call_park import RETRIEVE_CODE, SLOTS

CALLS = int(os.environ.get("BENCH_CC_CALLS", "200"))
TRANSFERS = int(os.environ.get("BENCH_CC_TRANSFERS", "100"))
REQUESTS = int(os.environ.get("BENCH_CC_REQUESTS", "300"))
PARKS = int(os.environ.get("BENCH_CC_PARKS", "100"))


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    return f"p50 {p50:.1f} ms, p99 {p99:.1f} ms ({len(ordered)} requests)"


def live(pbx: PbxProcess, token: str) -> list[dict[str, Any]]:
    return list(pbx.api("call/query", {"type": "internal"}, token=token)["calls"])


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-cc-"))
    env = {"KILOPBX_CALL_RTP_TIMEOUT": "0", "KILOPBX_REGISTRAR_QUALIFY_INTERVAL": "0"}
    pbx = PbxProcess(work / "pbx", env).start()
    phones = []
    retrievers: list[TalkingCaller] = []
    try:
        token = pbx.login()
        pbx.api("extension/delete", {"number": "all"}, token=token)
        add_extensions(pbx, token)
        callee_port, target_port = free_port(udp_too=True), free_port(udp_too=True)
        (work / "callee").mkdir()
        (work / "target").mkdir()
        register(pbx, "2002", callee_port, work / "callee")
        register(pbx, "2003", target_port, work / "target")
        many = ["-m", "100000", "-timeout", "600s"]
        phones.append(
            answer(pbx, callee_port, work / "callee", scenario="uas_reinvites.xml", extra=many)
        )
        phones.append(answer(pbx, target_port, work / "target", talk_ms=0, extra=many))
        talk = 600_000
        options = ["-m", str(CALLS), "-l", str(CALLS), "-r", "50", "-timeout", "900s"]
        phones.append(call(pbx, "2001", "2002", work, talk_ms=talk, extra=options))
        deadline = time.monotonic() + 60
        while len(calls := live(pbx, token)) < CALLS:
            if time.monotonic() > deadline:
                print(f"only {len(calls)} calls came up")
                return 1
            time.sleep(0.5)
        answered = [c for c in calls if c["members"][-1]["ext"]["memberstatus"] == "ANSWER"]
        print(f"{len(answered)} live answered calls")
        rng = random.Random(1)

        refused: dict[str, int] = {}

        def timed(name: str, body: dict[str, Any]) -> float:
            started = time.perf_counter()
            reply = pbx.api(name, body, token=token)
            elapsed = time.perf_counter() - started
            if reply["status"] != "Success":
                key = f"{name} {reply.get('errno')}"
                refused[key] = refused.get(key, 0) + 1
            return elapsed

        by_id = [
            timed("call/query", {"callid": rng.choice(answered)["callid"]}) for _ in range(REQUESTS)
        ]
        print(f"call/query by callid: {percentiles(by_id)}")
        listing = [timed("call/query", {"type": "internal"}) for _ in range(REQUESTS // 10)]
        print(f"call/query of all {CALLS} calls: {percentiles(listing)}")
        holds, unholds = [], []
        for _ in range(REQUESTS // 2):
            channel = rng.choice(answered)["members"][0]["ext"]["channelid"]
            holds.append(timed("call/hold", {"channelid": channel}))
            unholds.append(timed("call/unhold", {"channelid": channel}))
        print(f"call/hold (re-INVITE answered by sipp): {percentiles(holds)}")
        print(f"call/unhold: {percentiles(unholds)}")
        print(f"refused so far: {refused or 'none'}")

        moved = answered[:TRANSFERS]
        started = time.perf_counter()
        for item in moved:
            channel = item["members"][0]["ext"]["channelid"]
            timed("call/transfer", {"channelid": channel, "number": "2003"})
        requested = time.perf_counter() - started
        wanted = {item["callid"] for item in moved}
        deadline = time.monotonic() + 120
        while True:
            done = {
                c["callid"]
                for c in live(pbx, token)
                if c["callid"] in wanted
                and c["members"][-1]["ext"]["number"] == "2003"
                and c["members"][-1]["ext"]["memberstatus"] == "ANSWER"
            }
            if len(done) == len(wanted) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        print(
            f"blind transfers: {len(done)}/{len(wanted)} answered by the target in "
            f"{elapsed:.2f} s ({len(done) / elapsed:.0f}/s; requests took {requested:.2f} s) "
            f"with {CALLS} calls live"
        )
        print(f"refused: {refused or 'none'}")

        parks, cycles = [], 0
        started = time.perf_counter()
        for first in range(TRANSFERS, TRANSFERS + PARKS, len(SLOTS)):
            batch = answered[first : min(first + len(SLOTS), TRANSFERS + PARKS)]
            for slot, item in zip(SLOTS, batch, strict=False):
                body = {"channelid": item["members"][0]["ext"]["channelid"], "parkingslot": slot}
                parks.append(timed("call/callpark", body))
            round_ = [TalkingCaller(pbx, "2003") for _ in batch]
            retrievers += round_
            with ThreadPoolExecutor(len(round_)) as pool:
                codes = [f"{RETRIEVE_CODE}{slot}" for slot in SLOTS[: len(round_)]]
                list(pool.map(TalkingCaller.establish, round_, codes))  # each asserts its 200
            cycles += len(round_)
        elapsed = time.perf_counter() - started
        print(f"call/callpark: {percentiles(parks)}")
        print(
            f"park and retrieve: {cycles} cycles in {elapsed:.2f} s ({cycles / elapsed:.0f}/s) "
            f"in rounds of {len(SLOTS)}, with {CALLS} calls live"
        )

        # again with the transferred calls, each retrieved by call/dial from 2003 to the
        # slot: the PBX rings 2003's sipp, whose answer joins the parked call
        dials, cycles = [], 0
        started = time.perf_counter()
        for first in range(0, min(PARKS, TRANSFERS), len(SLOTS)):
            batch = answered[first : min(first + len(SLOTS), PARKS, TRANSFERS)]
            for slot, item in zip(SLOTS, batch, strict=False):
                body = {"channelid": item["members"][0]["ext"]["channelid"], "parkingslot": slot}
                parks.append(timed("call/callpark", body))
            for slot in SLOTS[: len(batch)]:
                dials.append(timed("call/dial", {"caller": "2003", "callee": slot}))
            wanted = {item["callid"] for item in batch}
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                back = {
                    c["callid"]
                    for c in live(pbx, token)
                    if c["callid"] in wanted
                    and [m["ext"]["memberstatus"] for m in c["members"]] == ["ANSWERED", "ANSWER"]
                    and c["members"][-1]["ext"]["number"] == "2003"
                }
                if back == wanted:
                    break
                time.sleep(0.02)
            cycles += len(back)
        elapsed = time.perf_counter() - started
        print(f"call/dial to a slot: {percentiles(dials)}")
        print(
            f"park and retrieve by call/dial: {cycles} cycles in {elapsed:.2f} s "
            f"({cycles / elapsed:.0f}/s) in rounds of {len(SLOTS)}, with {CALLS} calls live"
        )
        left = pbx.api("call/callpark_status", {}, token=token)["parkinfos"]
        print(f"refused: {refused or 'none'}; still parked: {len(left)}")
        return 0
    finally:
        for retriever in retrievers:
            retriever.close()
        for phone in phones:
            phone.kill()
        pbx.stop()


if __name__ == "__main__":
    sys.exit(main())
