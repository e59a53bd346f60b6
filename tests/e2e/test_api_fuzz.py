"""Hostile and random bodies against every endpoint of a running PBX.

Each endpoint gets JSON objects built from the spec's own field names with values of
every JSON type (control characters, huge numbers, long strings, nested objects,
lists, nulls). Whatever arrives, the answer must be a proper envelope: Success, or
Failed with a spec errno — never the internal-fault errnos, never a dropped connection.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kilopbx.api.router import registered_endpoints
from kilopbx.features import FEATURES
from tests.harness import PbxProcess

# session and credential endpoints would end the fuzzing session or lock its address
SKIP = {"login", "logout", "token/refresh"}
INTERNAL_FAULTS = {"20010", "30001"}

FIELDS = [
    "agentid",
    "agents",
    "agenttimeout",
    "allowbeingmonitored",
    "alwaysforward",
    "announcefreq",
    "announcepos",
    "atransferext",
    "atransfernum",
    "atransferto",
    "authname",
    "breakoutdest",
    "breakoutkey",
    "btransferto",
    "busyforward",
    "callerid",
    "callername",
    "callerpattern",
    "codecs",
    "company",
    "conferencename",
    "desttype",
    "dialtocheckvoicemail",
    "did",
    "didsetting",
    "digittimeout",
    "dnd",
    "domain",
    "dtmfmode",
    "email",
    "enabled",
    "enablemobile",
    "extension",
    "extensions",
    "extensionsgroup",
    "failoverdest",
    "failoverdesttype",
    "host",
    "id",
    "ipaddr",
    "ivrname",
    "joinempty",
    "keys",
    "loginpassword",
    "maxchannels",
    "maxduration",
    "maxregistrations",
    "maxwaittime",
    "members",
    "membergroup",
    "mobile",
    "moderatorpassword",
    "moderators",
    "monitor",
    "monitormode",
    "multicastip",
    "name",
    "newnumber",
    "noanswerforward",
    "number",
    "outboundproxy",
    "outofhoursdest",
    "outofhoursdesttype",
    "participantepassword",
    "password",
    "pin",
    "port",
    "prefix",
    "prepend",
    "prompt",
    "promptrepeat",
    "queuename",
    "record",
    "registername",
    "registerpassword",
    "responsetimeout",
    "ringstrategy",
    "ringtimeout",
    "selectedrouters",
    "strategy",
    "strip",
    "time",
    "timecondition",
    "timeoutdesttype",
    "transport",
    "trunkname",
    "trunks",
    "trunktype",
    "type",
    "url",
    "urltag",
    "username",
    "vmsecret",
    "waitformoderator",
    "weekdays",
    "wrapuptime",
]

SPECIAL = [
    "",
    " ",
    "all",
    "0",
    "-1",
    "1000",
    "1000,1001",
    "6200",
    "on",
    "off",
    "yes",
    "\x00",
    "a\r\nb: c",
    "'; DROP TABLE extension; --",
    "<x>",
    "%s%n",
    "٣",
    "9" * 40,
]

scalars = st.one_of(
    st.sampled_from(SPECIAL),
    st.text(max_size=40),
    st.text(alphabet=st.characters(max_codepoint=0x7F), min_size=200, max_size=3000),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
bodies = st.dictionaries(st.sampled_from(FIELDS), values, min_size=1, max_size=6)


def all_endpoints() -> list[str]:
    import kilopbx.pbx  # noqa: F401  (registers the core endpoints)

    for feature in FEATURES:
        importlib.import_module(feature)
    return sorted(set(registered_endpoints()) - SKIP)


@pytest.fixture(scope="module")
def pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PbxProcess]:
    process = PbxProcess(tmp_path_factory.mktemp("fuzz") / "pbx").start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def token(pbx: PbxProcess) -> str:
    return pbx.login()


@pytest.mark.parametrize("endpoint", all_endpoints())
def test_every_endpoint_answers_any_body_with_an_envelope(
    pbx: PbxProcess, token: str, endpoint: str
) -> None:
    @settings(
        max_examples=40,
        derandomize=True,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(body=bodies)
    def check(body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        status, _headers, payload = pbx.http(
            f"/api/v2.0.0/{endpoint}?token={token}",
            body=raw,
            headers={"Content-Type": "text/plain"},
        )
        assert status == 200, (endpoint, body, payload[:300])
        answer = json.loads(payload)
        assert answer["status"] in ("Success", "Failed"), answer
        if answer["status"] == "Failed":
            assert set(answer) == {"status", "errno"}, answer
            assert answer["errno"].isdigit(), answer
            assert answer["errno"] not in INTERNAL_FAULTS, (endpoint, body, pbx.log_tail(30))

    check()
    assert pbx.api("deviceinfo/query", token=token)["status"] == "Success"
