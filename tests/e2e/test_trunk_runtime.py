"""The trunks' runtime against real peers: sipp as a provider's registrar (digest
challenge) found through SRV records of a DNS server the test runs, sipp as a peer
answering OPTIONS, and sipp registering to an account trunk. `trunk/list` shows it all.
"""

from __future__ import annotations

import itertools
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.local_dns import LocalDns
from tests.e2e.sha256_provider import Sha256Provider
from tests.e2e.sipp.runner import HERE, SIPP, User, run_sipp, write_users
from tests.e2e.trunk_route_helpers import Api, module_pbx, module_receiver
from tests.harness import HOST, EventReceiver, PbxProcess, free_port

pytestmark = pytest.mark.peers

PROVIDER_USER = "carrieruser"
PROVIDER_PASSWORD = "Carr1erPass9"
GRANTED = 3  # seconds the provider grants: the trunk refreshes within the test
WAIT = 20.0


class SippPeer:
    """A long-running sipp server on a fixed port, killed and restarted at will."""

    def __init__(self, scenario: str, workdir: Path, inf: Path | None = None) -> None:
        self.scenario = scenario
        self.workdir = workdir
        self.inf = inf
        self.port = free_port(udp_too=True)
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0
        workdir.mkdir(parents=True, exist_ok=True)

    def start(self) -> SippPeer:
        self.runs += 1
        command = [
            SIPP,
            "-sf",
            str(HERE / self.scenario),
            "-i",
            HOST,
            "-p",
            str(self.port),
            "-t",
            "u1",
            "-m",
            "100000",
            "-nostdin",
            "-trace_msg",
            "-message_file",
            str(self.workdir / f"messages-{self.runs}.log"),
        ]
        if self.inf is not None:
            command += ["-inf", str(self.inf)]
        self.proc = subprocess.Popen(
            command, cwd=self.workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def messages(self) -> str:
        return "".join(
            p.read_text(errors="replace") for p in sorted(self.workdir.glob("messages-*.log"))
        )


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SippPeer]:
    workdir = tmp_path_factory.mktemp("provider")
    inf = workdir / "account.csv"
    inf.write_text(f"SEQUENTIAL\n{PROVIDER_USER};{PROVIDER_PASSWORD};{GRANTED}\n")
    peer = SippPeer("provider_registrar.xml", workdir, inf).start()
    yield peer
    peer.kill()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SippPeer]:
    peer = SippPeer("options_peer.xml", tmp_path_factory.mktemp("gateway")).start()
    yield peer
    peer.kill()


@pytest.fixture(scope="module")
def dns_server(provider: SippPeer) -> Iterator[LocalDns]:
    server = LocalDns(
        {
            ("carrier.test", "NAPTR"): ['10 10 "s" "SIP+D2U" "" _sip._udp.carrier.test.'],
            ("_sip._udp.carrier.test", "SRV"): [f"0 0 {provider.port} edge1.carrier.test."],
            ("edge1.carrier.test", "A"): [HOST],
        }
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def receiver() -> Iterator[EventReceiver]:
    yield from module_receiver()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, dns_server: LocalDns) -> Iterator[PbxProcess]:
    env = {
        "KILOPBX_TRUNKS_NAMESERVER": f"{HOST}:{dns_server.port}",
        "KILOPBX_TRUNKS_REQUEST_TIMEOUT": "1",
        "KILOPBX_TRUNKS_RETRY_MIN": "0.5",
        "KILOPBX_TRUNKS_RETRY_MAX": "1",
    }
    yield from module_pbx(tmp_path_factory, "trunkruntime", env)


@pytest.fixture(scope="module")
def api(server: PbxProcess, receiver: EventReceiver) -> Api:
    return Api(server, server.login(port=receiver.port))


@pytest.fixture(scope="module")
def carrier(api: Api, dns_server: LocalDns) -> str:
    """The register trunk of the provider found through DNS (its id). Each test that
    needs it asks for it, so no test depends on another having run first (with
    pytest-xdist a module's tests are spread over workers, each with its own PBX)."""
    return str(
        api.ok(
            "trunk/add_siptrunk",
            {
                "trunkname": "Carrier",
                "trunktype": "register",
                "host": "carrier.test",
                "domain": "carrier.test",
                "username": PROVIDER_USER,
                "authname": PROVIDER_USER,
                "password": PROVIDER_PASSWORD,
            },
        )["id"]
    )


def statuses(api: Api) -> dict[str, str]:
    return {t["trunkname"]: t["status"] for t in api.ok("trunk/list")["trunklist"]}


def wait_until(check: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def wait_status(api: Api, wanted: dict[str, str], timeout: float = WAIT) -> None:
    last: dict[str, Any] = {}

    def check() -> bool:
        nonlocal last
        last = statuses(api)
        return all(last.get(name) == status for name, status in wanted.items())

    try:
        wait_until(check, f"{wanted}", timeout)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; trunk/list says {last}") from None


def authorized_registers(text: str, call_id_hint: str = "") -> int:
    """REGISTERs with credentials that sipp received (its message trace)."""
    blocks = re.split(r"-{10,}", text)
    return sum(
        1
        for block in blocks
        if "REGISTER sip:" in block and "Authorization: Digest" in block and "received" in block
    )


def received_cseqs(text: str) -> list[int]:
    """The CSeq numbers of the REGISTERs sipp received, in the order they came."""
    numbers = []
    for block in re.split(r"-{10,}", text):
        if "message received" in block and "REGISTER sip:" in block:
            found = re.search(r"^CSeq:\s*(\d+) REGISTER", block, re.MULTILINE)
            if found:
                numbers.append(int(found.group(1)))
    return numbers


def test_registers_through_srv_refreshes_and_follows_the_provider(
    api: Api, carrier: str, provider: SippPeer, gateway: SippPeer, dns_server: LocalDns
) -> None:
    gateway_id = api.ok(
        "trunk/add_siptrunk",
        {
            "trunkname": "Gateway",
            "trunktype": "peer",
            "host": HOST,
            "port": str(gateway.port),
            "domain": HOST,
        },
    )["id"]
    api.ok("trunk/update_settings", {"id": gateway_id, "qualify": "5"})
    wait_status(api, {"Carrier": "Registered", "Gateway": "Registered"})
    # the provider was found through NAPTR and SRV, then the SRV target's address
    assert ("carrier.test", "NAPTR") in dns_server.queries
    assert ("_sip._udp.carrier.test", "SRV") in dns_server.queries
    assert ("edge1.carrier.test", "A") in dns_server.queries
    # granted GRANTED seconds, it registers again before they run out
    wait_until(
        lambda: authorized_registers(provider.messages()) >= 3, "re-registrations", timeout=10
    )

    # both go away: trunk/list shows it ...
    provider.kill()
    gateway.kill()
    wait_status(api, {"Carrier": "Failure", "Gateway": "Failure"})
    # ... and both come back on their own
    provider.start()
    gateway.start()
    wait_status(api, {"Carrier": "Registered", "Gateway": "Registered"})
    # the REGISTERs given up on while it was away are not retransmitted to the
    # provider once it is back: one REGISTER of the Call-ID at a time (RFC 3261 §10.2)
    came_back = received_cseqs((provider.workdir / f"messages-{provider.runs}.log").read_text())
    assert came_back and came_back == sorted(came_back), came_back


def test_wrong_credentials_fail_without_spinning(api: Api, provider: SippPeer) -> None:
    api.ok(
        "trunk/add_siptrunk",
        {
            "trunkname": "WrongPass",
            "trunktype": "register",
            "host": HOST,
            "port": str(provider.port),
            "domain": "carrier.test",
            "username": "someoneelse",
            "authname": "someoneelse",
            "password": "NotThe1Password",
        },
    )
    wait_status(api, {"WrongPass": "Failure"})
    before = provider.messages().count("someoneelse")
    started = time.monotonic()
    time.sleep(2.0)  # a measured window: how many REGISTERs a refused trunk sends
    elapsed = time.monotonic() - started
    sent = (provider.messages().count("someoneelse") - before) / 3  # From, To, Authorization
    # at most two REGISTERs (ask, answer) per retry, retries at least 0.5 s apart
    assert sent <= 2 * (elapsed / 0.5 + 2), sent
    assert statuses(api)["WrongPass"] in ("Failure", "Registering")


def test_disabling_unregisters_and_shows_disable(
    api: Api, carrier: str, provider: SippPeer
) -> None:
    wait_status(api, {"Carrier": "Registered"})
    api.ok("trunk/update_settings", {"id": carrier, "enabled": "no"})
    assert statuses(api)["Carrier"] == "Disable"
    wait_until(lambda: "Expires: 0" in provider.messages(), "the un-REGISTER", timeout=10)
    api.ok("trunk/update_settings", {"id": carrier, "enabled": "yes"})
    wait_status(api, {"Carrier": "Registered"})


def test_an_account_trunk_is_registered_while_its_remote_side_is(
    api: Api, server: PbxProcess, receiver: EventReceiver, tmp_path: Path
) -> None:
    api.ok(
        "trunk/add_siptrunk",
        {
            "trunkname": "Branch",
            "trunktype": "account",
            "username": "branch77",
            "authname": "branch77auth",
            "password": "Br4nchSecret",
        },
    )
    wait_status(api, {"Branch": "Unknown"})
    wrong = write_users(tmp_path / "wrong.csv", [User("branch77", "branch77auth", "nope")], 60)
    run_sipp("register_auth.xml", wrong, server.sip_port, workdir=tmp_path / "w", calls=1)
    assert statuses(api)["Branch"] == "Unknown"
    users = write_users(tmp_path / "ok.csv", [User("branch77", "branch77auth", "Br4nchSecret")], 60)
    result = run_sipp("register_auth.xml", users, server.sip_port, workdir=tmp_path / "r", calls=1)
    assert result.successful == 1, result.output
    wait_status(api, {"Branch": "Registered"})
    # an account trunk is no extension: no ExtensionStatus for it
    assert not [e for e in receiver.named("ExtensionStatus") if e.get("extension") == "branch77"]
    # a new password drops the registration at once
    trunk_id = next(
        t["id"] for t in api.ok("trunk/list")["trunklist"] if t["trunkname"] == "Branch"
    )
    api.ok(
        "trunk/update_siptrunk",
        {"id": trunk_id, "trunktype": "account", "password": "An0therSecret"},
    )
    wait_status(api, {"Branch": "Unknown"})


def test_registers_with_sha256_digest(api: Api) -> None:
    provider = Sha256Provider("shauser", "Sh4Secret256").start()
    try:
        api.ok(
            "trunk/add_siptrunk",
            {
                "trunkname": "Sha",
                "trunktype": "register",
                "host": HOST,
                "port": str(provider.port),
                "domain": "sha.test",
                "username": "shauser",
                "authname": "shauser",
                "password": "Sh4Secret256",
            },
        )
        wait_status(api, {"Sha": "Registered"})
        assert provider.accepted >= 1 and provider.refused == 0
    finally:
        provider.stop()


def test_a_refusing_provider_is_retried_with_growing_pauses_until_it_accepts(api: Api) -> None:
    """The module's PBX retries after 0.5 s, then doubles the pause up to 1 s."""
    provider = Sha256Provider("backoffuser", "B4ckoffSecret").start()
    provider.refusing = True
    try:
        api.ok(
            "trunk/add_siptrunk",
            {"trunkname": "Refused", "trunktype": "register", "host": HOST,
             "port": str(provider.port), "domain": "sha.test", "username": "backoffuser",
             "authname": "backoffuser", "password": "B4ckoffSecret"},
        )  # fmt: skip
        wait_until(lambda: len(provider.arrivals) >= 4, "three retries")
        assert statuses(api)["Refused"] == "Failure"
        first = provider.arrivals[:4]
        pauses = [later - earlier for earlier, later in itertools.pairwise(first)]
        # (a loaded machine only makes the pauses longer)
        assert pauses[0] >= 0.45 and min(pauses[1:]) >= 0.95, pauses
        provider.refusing = False  # the provider takes the account again
        wait_status(api, {"Refused": "Registered"})
        assert provider.accepted >= 1
    finally:
        provider.stop()


def test_deleting_a_register_trunk_unregisters_it(api: Api, provider: SippPeer) -> None:
    trunk_id = api.ok(
        "trunk/add_siptrunk",
        {
            "trunkname": "Direct",
            "trunktype": "register",
            "host": HOST,
            "port": str(provider.port),
            "domain": "carrier.test",
            "username": PROVIDER_USER,
            "authname": PROVIDER_USER,
            "password": PROVIDER_PASSWORD,
        },
    )["id"]
    wait_status(api, {"Direct": "Registered"})
    farewells = provider.messages().count("Expires: 0")
    api.ok("trunk/delete_siptrunk", {"id": trunk_id})
    assert "Direct" not in statuses(api)
    wait_until(lambda: provider.messages().count("Expires: 0") > farewells, "the un-REGISTER", 10)


def test_a_restart_keeps_account_registrations_and_a_stop_unregisters(
    api: Api,
    carrier: str,
    server: PbxProcess,
    receiver: EventReceiver,
    provider: SippPeer,
    tmp_path: Path,
) -> None:
    api.ok(
        "trunk/add_siptrunk",
        {"trunkname": "Office", "trunktype": "account", "username": "office78",
         "authname": "office78auth", "password": "Off1ceSecret"},
    )  # fmt: skip
    users = write_users(tmp_path / "ok.csv", [User("office78", "office78auth", "Off1ceSecret")], 60)
    result = run_sipp("register_auth.xml", users, server.sip_port, workdir=tmp_path / "r", calls=1)
    assert result.successful == 1, result.output
    wait_status(api, {"Office": "Registered", "Carrier": "Registered"})
    farewells = provider.messages().count("Expires: 0")
    server.restart()  # a clean stop: the register trunk says goodbye ...
    wait_until(lambda: provider.messages().count("Expires: 0") > farewells, "the un-REGISTER", 10)
    # ... the account trunk's registration is kept, and the trunk registers again
    fresh = Api(server, server.login(port=receiver.port))
    wait_status(fresh, {"Office": "Registered", "Carrier": "Registered"})
    farewells = provider.messages().count("Expires: 0")
    server.stop()  # the last test of the module: nothing uses this PBX afterwards
    wait_until(lambda: provider.messages().count("Expires: 0") > farewells, "the un-REGISTER", 10)
