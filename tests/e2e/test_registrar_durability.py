"""kill -9 under a REGISTER flood: every binding acknowledged with 200 is on disk and
comes back after the restart (a changed binding is acknowledged only once committed),
and API logins, which write to the same database, keep answering during the flood."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable

import pytest

from tests.e2e.sip_traffic import MiniPhone, add_extensions
from tests.harness import PbxProcess

pytestmark = pytest.mark.peers

PASSWORD = "Dv4nQ8rTz2Lm6WpX"
# Many extensions refreshed at once: every commit has hundreds of rows to write.
FLOOD_NUMBERS = [str(5000 + i) for i in range(200)]
PROBED_NUMBERS = [str(5300 + i) for i in range(30)]
FLOOD_SOURCES = ["127.0.0.61", "127.0.0.62", "127.0.0.63", "127.0.0.64"]
# before the 200 waited for the commit, logins took 1.4 to over 5 s under such a flood
LOGIN_SECONDS = 2.0


class RegisterFlood:
    """Closed-loop digest REGISTERs from several sources until stopped (or 20 s)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.stop = threading.Event()
        self.acknowledged = 0
        self.contacts: dict[str, str] = {}  # number -> contact, once acknowledged
        self._threads = [
            threading.Thread(target=self._run, args=(source, FLOOD_NUMBERS[k::4]), daemon=True)
            for k, source in enumerate(FLOOD_SOURCES)
        ]

    def _run(self, source: str, numbers: list[str]) -> None:
        phones = {number: MiniPhone(self.port, source) for number in numbers}
        deadline = time.monotonic() + 20
        try:
            while not self.stop.is_set() and time.monotonic() < deadline:
                for number, phone in phones.items():
                    if self.stop.is_set():
                        break
                    if phone.refresh(number, number, PASSWORD, timeout=1.0) == 200:
                        self.acknowledged += 1
                        self.contacts[number] = f"sip:{number}@{source}:{phone.local_port}"
        finally:
            for phone in phones.values():
                phone.close()

    def __enter__(self) -> RegisterFlood:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(5)


def test_acknowledged_bindings_survive_kill9_under_register_flood(
    make_pbx: Callable[..., PbxProcess],
) -> None:
    pbx = make_pbx({"KILOPBX_REGISTRAR_QUALIFY_INTERVAL": "0"})
    add_extensions(pbx, FLOOD_NUMBERS + PROBED_NUMBERS, PASSWORD)
    acknowledged: dict[str, str] = {}  # number -> contact, each from its own socket
    phones = [MiniPhone(pbx.sip_port, "127.0.0.2") for _ in PROBED_NUMBERS]
    try:
        with RegisterFlood(pbx.sip_port) as flood:
            time.sleep(0.5)
            started, before = time.monotonic(), flood.acknowledged
            for k, (number, phone) in enumerate(zip(PROBED_NUMBERS, phones, strict=True)):
                if k == len(PROBED_NUMBERS) // 2:
                    login_started = time.monotonic()
                    pbx.login()
                    login_seconds = time.monotonic() - login_started
                if phone.register(number, number, PASSWORD, timeout=2.0) == 200:
                    acknowledged[number] = f"sip:{number}@{phone.local_ip}:{phone.local_port}"
            # no waiting: what was acknowledged is on disk already
            pbx.kill9()
            rate = (flood.acknowledged - before) / (time.monotonic() - started)
            acknowledged.update(flood.contacts)  # refreshed ones are on disk too
    finally:
        for phone in phones:
            phone.close()
    probed = [number for number in PROBED_NUMBERS if number in acknowledged]
    assert len(probed) >= len(PROBED_NUMBERS) - 2, acknowledged
    assert rate > 100, f"the flood ran at only {rate:.0f} REGISTER/s"
    assert login_seconds < LOGIN_SECONDS, f"a login took {login_seconds:.2f} s"

    database = sqlite3.connect(pbx.data_dir / "kilopbx.db")
    try:
        rows = set(database.execute("SELECT number, contact FROM registrar_binding"))
    finally:
        database.close()
    missing = [(n, c) for n, c in acknowledged.items() if (n, c) not in rows]
    assert not missing, f"{len(missing)} acknowledged bindings not on disk: {missing[:5]}"

    pbx.start()
    listing = pbx.api("extension/list", {}, token=pbx.login())["extlist"]
    status = {entry["number"]: entry["status"] for entry in listing}
    assert all(status[number] == "Registered" for number in acknowledged), status
