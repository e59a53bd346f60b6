"""Feature codes a phone dials to change its own extension's settings (the number
plan's codes): call forward always, busy and no answer on (optionally followed by the
extension to forward to) and off, do not disturb on and off; and ``*65``, which
says the phone's own extension number.

``setting_code`` reads a dialled number (sans IO). The engine hands a code to the
``PhoneSettings`` a feature provides (``PHONE_SETTINGS``: it writes the extension
and the change shows in the API at once), then acknowledges the call: a short
answer with two beeps and a BYE from us, or a
refusal (404 for a forwarding target that is no extension, 403 for anything else the
settings refuse).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from kilopbx.core.errors import DomainError
from kilopbx.core.registry import Key
from kilopbx.engine.anchor import Anchor, remote_address
from kilopbx.engine.directory import SipAccount
from kilopbx.engine.sdp_negotiation import LegMedia, SdpRejected, read_media
from kilopbx.media.pool import MediaError
from kilopbx.sip.dialog import DialogError
from kilopbx.sip.dialog_user import SipDialog
from kilopbx.sip.message import SipRequest
from kilopbx.sip.transaction_user import ServerTransactionHandle

if TYPE_CHECKING:
    from kilopbx.engine.calls import CallEngine

log = logging.getLogger(__name__)

# code -> (setting, on): "always", "busy", "no_answer" (forwarding) or "dnd"
SETTING_CODES: dict[str, tuple[str, bool]] = {
    "*72": ("always", True),
    "*73": ("always", False),
    "*90": ("busy", True),
    "*91": ("busy", False),
    "*92": ("no_answer", True),
    "*93": ("no_answer", False),
    "*78": ("dnd", True),
    "*79": ("dnd", False),
}
MAX_TARGET = 16
ACK_SECONDS = 1.0  # how long the acknowledging answer lasts before our BYE
CONFIRM_TONE = "tone:880/150,100,150,100"  # two short beeps: done
MAX_PLAY_SECONDS = 20.0  # the longest announcement a feature code plays
SPEAK_NUMBER = "*65"
NO_SUCH_TARGET = "feature_codes.no_such_target"


@dataclass(frozen=True, slots=True)
class SettingCode:
    setting: str  # "always", "busy", "no_answer" or "dnd"
    on: bool
    target: str = ""  # forwarding on: the extension to forward to ("": as configured)


def setting_code(dialled: str) -> SettingCode | None:
    """The settings change ``dialled`` asks for, or None when it is no such code."""
    entry = SETTING_CODES.get(dialled[:3])
    if entry is None:
        return None
    setting, on = entry
    target = dialled[3:]
    if target and (not on or setting == "dnd"):
        return None  # "off" and DND take no argument
    if len(target) > MAX_TARGET or (target and not (target.isascii() and target.isdigit())):
        return None
    return SettingCode(setting, on, target)


class PhoneSettings(Protocol):
    async def apply(self, extension: str, code: SettingCode) -> None:
        """Change ``extension``'s setting; DomainError(NO_SUCH_TARGET) when the
        forwarding target is no extension, another DomainError for other refusals."""
        ...


PHONE_SETTINGS: Key[PhoneSettings] = Key("phone settings by feature code")


def offer_or_488(transaction: ServerTransactionHandle) -> LegMedia | None:
    """The SDP offer of a phone's INVITE, or None once it was answered 488 (a call
    the PBX answers itself: feature codes, pickups, the echo test)."""
    try:
        return read_media(transaction.request.body)
    except SdpRejected:
        transaction.respond(488)
        return None


class ShortCallLine:
    """The dialog of a short call the PBX answers itself (a feature code's
    acknowledgement, the echo test): the phone's BYE ends it."""

    def __init__(self) -> None:
        self.hung_up = asyncio.Event()

    def on_dialog_request(self, dialog: SipDialog, transaction: ServerTransactionHandle) -> None:
        transaction.respond(200 if transaction.request.method in ("BYE", "INFO") else 501)
        if transaction.request.method == "BYE":
            self.hung_up.set()

    def on_dialog_ack(self, dialog: SipDialog, ack: SipRequest) -> None:
        pass


async def run_setting_code(
    engine: CallEngine,
    transaction: ServerTransactionHandle,
    account: SipAccount,
    code: SettingCode,
    settings: PhoneSettings,
) -> None:
    """Apply ``code`` for ``account`` and acknowledge the phone's INVITE."""
    offer = offer_or_488(transaction)
    if offer is None:
        return
    try:
        await settings.apply(account.number, code)
    except DomainError as exc:
        log.info("feature code from %s refused: %s", account.number, exc.reason)
        transaction.respond(404 if exc.reason == NO_SUCH_TARGET else 403)
        return
    await _answer_and_play(engine, transaction, offer, [CONFIRM_TONE])


async def speak_number(
    engine: CallEngine, transaction: ServerTransactionHandle, account: SipAccount
) -> None:
    """``*65``: answer and say the phone's extension number, then hang up."""
    offer = offer_or_488(transaction)
    if offer is None:
        return
    library = engine.sounds()
    names = ["your-extension-is", *(f"digit-{d}" for d in account.number if d.isdigit())]
    sources = [library.prompt(name) for name in names] if library is not None else []
    playlist = [source for source in sources if source is not None] or [CONFIRM_TONE]
    await _answer_and_play(engine, transaction, offer, playlist)


async def _answer_and_play(
    engine: CallEngine, transaction: ServerTransactionHandle, offer: LegMedia, playlist: list[str]
) -> None:
    """Answer the phone's INVITE, play ``playlist`` to it, then hang up (unless the
    phone does first); the endpoint is deleted whatever happens."""
    owner = ShortCallLine()
    invite = engine.sip.server_invite(transaction, owner)
    try:
        endpoint = await engine.first_endpoint(offer.worker_codecs(), remote_address(offer))
    except (MediaError, OSError, RuntimeError, TimeoutError):
        invite.reject(503)  # a setting has changed; only the acknowledgement failed
        return
    try:
        address = engine.media_address(transaction.source.host)
        session = str(secrets.randbelow(2**31))
        anchor = Anchor(endpoint, address, offer.codecs[:1], offer.dtmf, session)
        with contextlib.suppress(DialogError):
            dialog = invite.answer(anchor.sdp())
            if await invite.acknowledged() is None:
                return  # no ACK: the stack has sent the BYE
            seconds = ACK_SECONDS
            with contextlib.suppress(MediaError):
                playback = await engine.media.play(endpoint, playlist)
                seconds = max(ACK_SECONDS, min(playback.seconds + 0.5, MAX_PLAY_SECONDS))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(owner.hung_up.wait(), seconds)
            if not owner.hung_up.is_set() and not dialog.ended:
                await dialog.request("BYE")
    finally:
        with contextlib.suppress(MediaError):
            await engine.media.delete_endpoint(endpoint)
