"""CDRs against a running PBX: calls a kill -9 cut off get their CDR and `NewCdr` (both
event formats) at the next start, and the CDR file is downloadable once per grant.

Calls in progress are written into the database file with sqlite3 while the PBX is
down, as a crash during those calls would have left them; nothing in the product is a
test hook.
"""

from __future__ import annotations

import sqlite3
import urllib.parse
from collections.abc import Callable
from typing import Any

from tests.harness import EventReceiver, PbxProcess

T0 = 1_718_869_200  # 2024-06-20 07:40:00 UTC; the PBX runs with TZ=UTC
UTC = {"TZ": "UTC"}


def insert_open_call(pbx: PbxProcess, call_id: str, **columns: Any) -> None:
    row = {
        "call_id": call_id,
        "started_at": T0,
        "answered_at": None,
        "seen_at": T0,
        "caller": "2101",
        "callee": "2102",
        "call_type": "Internal",
        "source_trunk": "",
        "destination_trunk": "",
        "pin_code": "",
        "recording": "",
        "did_number": "",
        **columns,
    }
    names = ",".join(row)
    marks = ",".join("?" for _ in row)
    with sqlite3.connect(pbx.data_dir / "kilopbx.db") as conn:
        conn.execute(f"INSERT INTO cdr_open_call ({names}) VALUES ({marks})", list(row.values()))


def new_cdrs(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e.get("event", e.get("action")) == "NewCdr"]


def download(pbx: PbxProcess, token: str, query: dict[str, str], **kw: Any) -> tuple[str, bytes]:
    path = "/api/v2.0.0/cdr/download?" + urllib.parse.urlencode({**query, "token": token})
    status, headers, body = pbx.http(path, method="GET", **kw)
    assert status == 200
    return headers["Content-Type"], body


def test_calls_cut_off_by_kill_9_get_cdrs_in_both_formats(
    make_pbx: Callable[..., PbxProcess], receiver: EventReceiver
) -> None:
    pbx = make_pbx(UTC)
    legacy_receiver = EventReceiver().start()
    try:
        token = pbx.login(port=receiver.port)
        pbx.login_legacy(port=legacy_receiver.port)
        pbx.kill9()
        insert_open_call(
            pbx,
            "1718869200.731",
            caller="0612345678",
            callee="2102",
            call_type="Inbound",
            answered_at=T0 + 14,
            seen_at=T0 + 95,
            source_trunk="carrier-a",
            did_number="0581234500",
        )
        insert_open_call(pbx, "1718869260.740", started_at=T0 + 60, seen_at=T0 + 70)
        pbx.start()
        v2 = new_cdrs(receiver.wait_for(lambda ev: len(new_cdrs(ev)) >= 2))
        legacy_receiver.wait_for(lambda ev: len(new_cdrs(ev)) >= 2)
        sn = v2[0]["sn"]
        expected = {
            "event": "NewCdr",
            "callid": "1718869200.731",
            "timestart": "2024-06-20 07:40:00",
            "callfrom": "0612345678",
            "callto": "2102",
            "callduraction": "95",
            "talkduraction": "81",
            "srctrunkname": "carrier-a",
            "dsttrcunkname": "",
            "pincode": "",
            "status": "ANSWERED",
            "type": "Inbound",
            "recording": "",
            "didnumber": "0581234500",
            "agentringtime": "0",
            "sn": sn,
        }
        assert v2[0] == expected
        assert list(v2[0]) == list(expected)  # the spec's key order
        assert (v2[1]["callid"], v2[1]["status"], v2[1]["talkduraction"]) == (
            "1718869260.740",
            "NO ANSWER",
            "0",
        )
        legacy = [b for b in legacy_receiver.bodies if b.startswith(b'{"action":"NewCdr"')]
        assert legacy == [
            b'{"action":"NewCdr","callid":"1718869200.731","timestart":"2024-06-20 07:40:00",'
            b'"callfrom":"0612345678","callto":"2102","srctrunkname":"carrier-a",'
            b'"callduraction":"95","talkduraction":"81","status":"ANSWERED","type":"Inbound",'
            b'"didnumber":"0581234500","sn":"' + sn.encode() + b'"}',
            b'{"action":"NewCdr","callid":"1718869260.740","timestart":"2024-06-20 07:41:00",'
            b'"callfrom":"2101","callto":"2102","callduraction":"10","talkduraction":"0",'
            b'"status":"NO ANSWER","type":"Internal","sn":"' + sn.encode() + b'"}',
        ]

        # the records are stored: the CDR file has them, once per grant
        query = {"number": "2102", "starttime": "2024-06-20 00:00:00"}
        query["endtime"] = "2024-06-20 23:59:59"
        grant = pbx.api("cdr/get_random", query, token=token)
        assert grant["status"] == "Success" and len(grant["random"]) == 32
        assert {k: grant[k] for k in query} == query
        content_type, body = download(pbx, token, {**query, "random": grant["random"]})
        assert content_type.startswith("text/csv")
        assert body.split(b"\r\n") == [
            b"callid,timestart,callfrom,callto,callduraction,talkduraction,srctrunkname,"
            b"dsttrunkname,status,type,pincode,recording,didnumber,sn",
            b"1718869200.731,2024-06-20 07:40:00,0612345678,2102,95,81,carrier-a,,ANSWERED,"
            b"Inbound,,,0581234500," + sn.encode(),
            b"1718869260.740,2024-06-20 07:41:00,2101,2102,10,0,,,NO ANSWER,Internal,,,,"
            + sn.encode(),
            b"",
        ]
        _, again = download(pbx, token, {**query, "random": grant["random"]})
        assert again == b'{"status":"Failed","errno":"20020"}'

        # a clean restart closes nothing more
        pbx.restart()
        receiver.wait_for(lambda ev: sum(e.get("event") == "BootUp" for e in ev) >= 2)
        assert len(new_cdrs(receiver.events)) == 2
    finally:
        legacy_receiver.stop()


def test_cdr_download_refuses_bad_requests(pbx: PbxProcess) -> None:
    token = pbx.login()
    pbx.kill9()
    insert_open_call(pbx, "1718869200.9", seen_at=T0 + 5)
    pbx.start()
    day = {"number": "all", "starttime": "2024-06-19 00:00:00", "endtime": "2024-06-21 00:00:00"}

    def errno(body: dict[str, Any]) -> str:
        answer = pbx.api("cdr/get_random", body, token=token)
        return str(answer.get("errno", answer["status"]))

    assert errno({}) == "20007"
    assert errno({"number": "2101", "starttime": day["starttime"]}) == "10004"
    assert errno({**day, "number": " , "}) == "10004"
    for bad in ("2024-06-19", "2024-6-19 00:00:00", "2024-02-30 00:00:00", "2024-06-19  0:00:0"):
        assert errno({**day, "starttime": bad}) == "20019", bad
    assert errno({**day, "starttime": day["endtime"], "endtime": day["starttime"]}) == "20019"
    assert errno({**day, "starttime": "2022-01-01 00:00:00"}) == "20019"  # over 366 days
    assert errno({**day, "allowedip": "10.0.0.1,10.0.0.2"}) == "20015"
    assert errno({**day, "number": "9999"}) == "20021"
    assert errno({**day, "number": ",".join(str(n) for n in range(2000))}) == "10004"
    assert errno({**day, "number": 2101}) == "Success"  # numbers as JSON numbers too

    def fresh(**extra: str) -> str:
        return str(pbx.api("cdr/get_random", {**day, **extra}, token=token)["random"])

    failed = b'{"status":"Failed","errno":"20020"}'
    assert download(pbx, token, {**day, "random": "0" * 32})[1] == failed
    changed = {**day, "number": "2101", "random": fresh()}
    assert download(pbx, token, changed)[1] == failed
    other_token = pbx.login()
    assert download(pbx, other_token, {**day, "random": fresh()})[1] == failed
    # another host may download only when get_random named it
    elsewhere = {"source_ip": "127.0.0.2"}
    denied = download(pbx, token, {**day, "random": fresh()}, **elsewhere)[1]
    assert denied == b'{"status":"Failed","errno":"20015"}'
    granted = {**day, "random": fresh(allowedip="127.0.0.2")}
    assert download(pbx, token, granted, **elsewhere)[1].startswith(b"callid,")
