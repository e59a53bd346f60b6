"""The answer of a call is told (``CallStatus``, the open CDR) at the callee's 200,
before the media steps that follow it (the recording's start), so a member change the
API makes meanwhile (``call/add_member``) is reported after the answer, in both event
formats; and a media step that fails after the answer still leaves a clean call.

The call runs on the real engine, runtime, B2BUA machine and reporter; the caller's
leg, the callee's phone and the media worker are stand-ins, the worker's recording
start waiting for the test to let it answer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest

from kilopbx.clock import FakeClock
from kilopbx.engine.b2bua import Action, BranchAnswered, Hangup, new_branch
from kilopbx.engine.call_leg import ENDED_CALL, LegOwner
from kilopbx.engine.call_listen import CallSupervision
from kilopbx.engine.call_reporting import CallReporter
from kilopbx.engine.call_runtime import CallRuntime
from kilopbx.engine.calls import CallEngine
from kilopbx.engine.directory import AccountDirectory, SipAccount
from kilopbx.engine.sdp_negotiation import SdpRejected, read_media
from kilopbx.engine.sip_auth import DigestAuthenticator
from kilopbx.engine.sip_service import SipService
from kilopbx.engine.sounds import RecordingTarget
from kilopbx.events.bus import EventBus
from kilopbx.events.call_events import CallStatus
from kilopbx.events.call_events_legacy import LegacyCallTranslator
from kilopbx.events.call_model import CallRecord as Cdr
from kilopbx.events.call_model import OpenCallRecord
from kilopbx.media.pool import EndpointRef, MediaError, MediaPool, MixRef, RecordingRef
from kilopbx.sip.dialog import DialogError
from kilopbx.sip.dialog_user import SipDialog
from kilopbx.sip.digest import NonceManager

PASSWORD = "Kx7mPq2wRt9vBn4Z"
CALLER_SDP = (
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 4000 RTP/AVP 0\r\n"
)
CALLEE_SDP = CALLER_SDP.replace(b"4000", b"4002")


class SlowRecordingPool:
    """The media worker: every command answers at once but ``record``, which waits
    until the test opens ``recording_gate`` (and then fails with ``record_error``,
    if set)."""

    bind = "127.0.0.1"

    def __init__(self) -> None:
        self.recording_asked = asyncio.Event()
        self.recording_gate = asyncio.Event()
        self.record_error: Exception | None = None
        self.recordings: list[RecordingRef] = []
        self.deleted: list[str] = []
        self._made = 0

    async def create_endpoint(self, codecs: Any, remote: Any = None, **_: Any) -> EndpointRef:
        self._made += 1
        return EndpointRef(0, f"e{self._made}", 20000 + 2 * self._made)

    async def modify_endpoint(self, ref: EndpointRef, **fields: Any) -> None:
        pass

    async def bridge(self, a: EndpointRef, b: EndpointRef) -> None:
        pass

    async def mix(self, members: Any, *, mix: MixRef | None = None) -> MixRef:
        return mix or MixRef(0, 1)

    async def delete_endpoint(self, ref: EndpointRef) -> dict[str, Any]:
        self.deleted.append(ref.id)
        return {}

    async def record(self, refs: Sequence[EndpointRef], path: Any) -> RecordingRef:
        self.recording_asked.set()
        await self.recording_gate.wait()
        if self.record_error is not None:
            raise self.record_error
        loop = asyncio.get_running_loop()
        recording = RecordingRef(0, len(self.recordings) + 1, str(path), loop.create_future())
        self.recordings.append(recording)
        return recording

    async def record_join(self, recording: RecordingRef, ref: EndpointRef) -> None:
        pass


@dataclass
class Recordings:
    """Every call is recorded (``CallRecordings``)."""

    in_progress: set[str] = field(default_factory=set)

    def target(self, *, call_id: str, **_: Any) -> RecordingTarget:
        name = f"{call_id}.wav"
        return RecordingTarget(name, Path("/nonexistent") / name)

    def started(self, target: RecordingTarget) -> None:
        self.in_progress.add(target.name)

    def finished(self, target: RecordingTarget) -> None:
        self.in_progress.discard(target.name)


@dataclass
class Dialog:
    ended: bool = False
    byes: int = 0
    owner: object = None  # the leg owner, where a test gives the dialog one

    async def request(self, method: str, **_: Any) -> None:
        assert method == "BYE"
        self.byes += 1
        self.ended = True


@dataclass
class CallerLeg:
    """The caller's INVITE: answered with a 200 the test sees (``answered``)."""

    dialog: Dialog = field(default_factory=Dialog)
    answered: bytes | None = None
    cancel_crosses: bool = False  # its CANCEL crosses our 200
    rejected: int = 0
    peer_host: str = "127.0.0.1"
    hops: int = 70

    @property
    def final_sent(self) -> bool:
        return self.answered is not None or self.rejected != 0

    @property
    def cancelled(self) -> bool:
        return False

    def provisional(self, status: int, *, body: bytes = b"") -> None:
        pass

    def answer(self, body: bytes) -> SipDialog:
        if self.cancel_crosses:
            raise DialogError("the INVITE was cancelled")
        self.answered = body
        return cast(SipDialog, self.dialog)

    def reject(self, status: int) -> None:
        self.rejected = status

    async def confirmed(self) -> bool:
        return True


@dataclass
class Contact:
    uri: str = "sip:2003@127.0.0.1:5080"
    transport: str = "udp"
    host: str = "127.0.0.1"
    port: int = 5080


class Registrations:
    def contacts_for(self, number: str) -> list[Contact]:
        return [Contact()]

    def registered_ip(self, number: str) -> str | None:
        return None


class NoNetwork:
    """The SIP side of a member rung by ``call/add_member``: its INVITE cannot leave
    (a unit test has no network), so the member is dropped after ringing."""

    host = "127.0.0.1"

    def contact(self, destination: Any) -> str:
        return "<sip:pbx@127.0.0.1>"

    async def invite(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("no network in a unit test")


class CdrRecorder:
    def __init__(self) -> None:
        self.writes: list[OpenCallRecord | Cdr] = []

    async def record_open_call(self, call: OpenCallRecord) -> None:
        self.writes.append(call)

    async def record(self, record: Cdr) -> object:
        self.writes.append(record)
        return None


class OnePhoneCall(CallRuntime):
    """A call to one phone of the dialled extension, rung without SIP: the test
    answers it (``BranchAnswered``) with ``CALLEE_SDP``."""

    branch = ""

    def route(self, number: str) -> list[Action]:
        account = self.engine.directory.by_number(number)
        assert account is not None
        self.target = account
        channel = new_branch(self.call, number, 0, self.engine.new_channel_id(number))
        self.branch = channel.id
        self.remote[channel.id] = read_media(CALLEE_SDP)
        self.dialogs[channel.id] = cast(SipDialog, Dialog())
        actions = self.machine.retarget([channel], self.engine.now())
        self.engine.track(self, ringing=True)
        return actions


class Pbx:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.directory = AccountDirectory()
        self.directory.load([SipAccount(n, n, PASSWORD) for n in ("2001", "2002", "2003")])
        auth = DigestAuthenticator(
            self.directory,
            NonceManager(b"k" * 32, clock=self.clock.now),
            realm="KiloPBX",
            algorithms=("MD5",),
        )
        self.bus = EventBus()
        self.events: list[Any] = []
        self.bus.subscribe(self.events.append)
        self.cdrs = CdrRecorder()
        self.reporter = CallReporter(self.bus, lambda: self.cdrs)
        self.pool = SlowRecordingPool()
        self.engine = CallEngine(
            sip=cast(SipService, NoNetwork()),
            auth=auth,
            directory=self.directory,
            registrations=Registrations(),
            media=cast(MediaPool, self.pool),
            clock=self.clock,
            bus=self.bus,
            observers=lambda: [self.reporter],
        )
        self.recordings = Recordings()
        self.engine.recordings = lambda: self.recordings
        self.leg = CallerLeg()
        caller = self.directory.by_number("2001")
        assert caller is not None
        self.call = OnePhoneCall(
            self.engine, lambda _: self.leg, caller, "2002", read_media(CALLER_SDP)
        )
        self.task: asyncio.Task[None] | None = None

    async def ring(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.call.run())
        await until(lambda: bool(self.call.branch))

    async def end(self) -> None:
        assert self.task is not None
        self.call.feed(Hangup("api"))
        await asyncio.wait_for(self.task, 5.0)
        await self.reporter.drain()

    def snapshots(self) -> list[list[tuple[str, str]]]:
        return [
            [(m.number, m.status.value if m.status else "") for m in e.members]
            for e in self.events
            if isinstance(e, CallStatus)
        ]

    def legacy(self) -> list[tuple[str, str]]:
        """The legacy reports, as (action, the extension they are about)."""
        translator = LegacyCallTranslator()
        reports = []
        for event in self.events:
            if isinstance(event, CallStatus):
                for report in translator.translate(event.call_id, event.members):
                    reports.append((report.action, report.parties[0][1]["extid"]))
        return reports


async def until(condition: Any) -> None:
    async with asyncio.timeout(5.0):
        while not condition():
            await asyncio.sleep(0)


async def test_a_member_added_while_the_recording_starts_rings_after_the_answer() -> None:
    pbx = Pbx()
    await pbx.ring()
    pbx.call.feed(BranchAnswered(pbx.call.branch))
    await asyncio.wait_for(pbx.pool.recording_asked.wait(), 5.0)
    assert pbx.leg.answered  # the caller has its 200: the API may act on the call now
    caller = pbx.call.call.caller.id
    supervision = CallSupervision(pbx.engine)
    assert await supervision.add_member(caller, "2003") == pbx.call.call.id
    pbx.pool.recording_gate.set()
    await until(lambda: pbx.call.media_apps.recording is not None)
    await pbx.end()

    snapshots = pbx.snapshots()
    talking = [("2001", "ANSWERED"), ("2002", "ANSWER")]
    assert snapshots[:3] == [
        [("2001", "ALERT"), ("2002", "RING")],
        talking,
        [*talking, ("2003", "RING")],
    ], snapshots
    assert pbx.legacy()[:5] == [
        ("ALERT", "2001"),
        ("RING", "2002"),
        ("ANSWERED", "2001"),
        ("ANSWER", "2002"),
        ("RING", "2003"),
    ], pbx.legacy()


async def test_the_answer_and_its_open_cdr_name_the_recording_before_it_starts() -> None:
    pbx = Pbx()
    await pbx.ring()
    pbx.call.feed(BranchAnswered(pbx.call.branch))
    await asyncio.wait_for(pbx.pool.recording_asked.wait(), 5.0)
    await pbx.reporter.drain()
    name = f"{pbx.call.call.id}.wav"
    answered = [w for w in pbx.cdrs.writes if isinstance(w, OpenCallRecord) and w.answered_at]
    assert [w.recording for w in answered] == [name]  # told at the answer, not after
    assert pbx.recordings.in_progress == {name}  # not downloadable while it is written
    pbx.pool.recording_gate.set()
    await until(lambda: pbx.call.media_apps.recording is not None)
    await pbx.end()
    final = pbx.cdrs.writes[-1]
    assert isinstance(final, Cdr) and final.recording == name


async def test_a_recording_the_worker_refuses_costs_the_recording_not_the_call() -> None:
    pbx = Pbx()
    await pbx.ring()
    pbx.pool.record_error = MediaError("internal", "disk full")
    pbx.pool.recording_gate.set()
    pbx.call.feed(BranchAnswered(pbx.call.branch))
    await asyncio.wait_for(pbx.pool.recording_asked.wait(), 5.0)
    await until(lambda: not pbx.recordings.in_progress)
    assert not pbx.call.machine.ended and pbx.call.media_apps.recording_name == ""
    await pbx.end()
    final = pbx.cdrs.writes[-1]
    assert isinstance(final, Cdr)
    assert final.recording == "" and final.disposition.value == "ANSWERED"
    assert pbx.snapshots()[-1] == [("2001", "BYE"), ("2002", "BYE")]


async def test_an_unexpected_failure_after_the_answer_ends_the_call_cleanly() -> None:
    pbx = Pbx()
    await pbx.ring()
    pbx.pool.record_error = RuntimeError("the worker said something we do not know")
    pbx.pool.recording_gate.set()
    pbx.call.feed(BranchAnswered(pbx.call.branch))
    assert pbx.task is not None
    await asyncio.wait_for(pbx.task, 5.0)  # the call ends by itself
    await pbx.reporter.drain()
    assert pbx.leg.answered and not pbx.leg.rejected  # answered: it gets a BYE, no 500
    assert pbx.leg.dialog.byes == 1
    callee = cast(Dialog, pbx.call.dialogs[pbx.call.branch])
    assert callee.byes == 1
    assert sorted(pbx.pool.deleted) == ["e1", "e2"]  # both endpoints are gone
    assert pbx.engine.calls == {} and pbx.recordings.in_progress == set()
    assert pbx.snapshots()[1:] == [
        [("2001", "ANSWERED"), ("2002", "ANSWER")],
        [("2001", "BYE"), ("2002", "BYE")],
    ]
    final = pbx.cdrs.writes[-1]
    assert isinstance(final, Cdr) and final.recording == ""  # no file was made


async def test_a_caller_whose_cancel_crosses_the_answer_leaves_no_recording_behind() -> None:
    pbx = Pbx()
    await pbx.ring()
    pbx.leg.cancel_crosses = True
    pbx.call.feed(BranchAnswered(pbx.call.branch))
    assert pbx.task is not None
    await asyncio.wait_for(pbx.task, 5.0)
    await pbx.reporter.drain()
    assert not pbx.pool.recording_asked.is_set() and pbx.recordings.in_progress == set()
    callee = cast(Dialog, pbx.call.dialogs[pbx.call.branch])
    assert callee.byes == 1 and pbx.pool.deleted
    final = pbx.cdrs.writes[-1]
    assert isinstance(final, Cdr) and final.recording == ""


async def test_an_ended_call_is_no_longer_reachable_from_its_legs() -> None:
    """SIP objects outlive a call (an INVITE client transaction keeps its user for
    Timer M, 32 s, to ACK a late 2xx): once the call is over, the owner of each leg
    points at the ended-call stand-in instead of the call, whose whole state (media,
    members, machine) can then go at once. A late re-INVITE gets 488 from it."""
    pbx = Pbx()
    await pbx.ring()
    callee = cast(Dialog, pbx.call.dialogs[pbx.call.branch])
    owner = LegOwner(pbx.call, pbx.call.branch)
    callee.owner = owner
    elsewhere = LegOwner(pbx.call, "moved on")  # an owner the call no longer knows
    pbx.call.feed(BranchAnswered(pbx.call.branch))
    pbx.pool.recording_gate.set()
    await until(lambda: pbx.call.media_apps.recording is not None)
    assert owner.call is pbx.call  # while the call lasts, its legs reach it
    await pbx.end()
    assert owner.call is ENDED_CALL
    assert elsewhere.call is pbx.call
    with pytest.raises(SdpRejected):
        await ENDED_CALL.leg_offer(pbx.call.branch, read_media(CALLEE_SDP))
    assert ENDED_CALL.leg_sdp("x") is None and ENDED_CALL.leg_refreshed("x") == []
