"""The events and actions of a call's state machine (``kilopbx.engine.b2bua``) that
move channels once the call is answered: blind transfer, parking, ringing on for a
parked call, and splicing a leg that already talks (attended transfer, INVITE with
Replaces) in place of another. They live apart so the machine's module stays readable."""

from __future__ import annotations

from dataclasses import dataclass

# -- events ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Transfer:
    """Blind transfer: the party on ``keep`` stays and now calls ``number``; its peer in
    the bridge leaves (with a BYE unless ``bye_released`` is False: a REFER's
    transferor is released by the REFER's own handling after its last NOTIFY)."""

    keep: str
    number: str
    bye_released: bool = True


@dataclass(frozen=True, slots=True)
class Park:
    """Park the party on ``keep``: its peer leaves (a BYE unless ``bye_released`` is
    False, as for ``Transfer``); it waits, held."""

    keep: str
    bye_released: bool = True


@dataclass(frozen=True, slots=True)
class Ring:
    """A parked party calls ``number`` (nobody retrieved it: the parker)."""

    number: str


@dataclass(frozen=True, slots=True)
class Splice:
    """The party on ``keep`` stays; its peer in the bridge leaves (a BYE unless
    ``bye_released`` is False) and ``joined``, a leg that is answered already (a
    consultation's target, a phone's INVITE with Replaces), takes the peer's place at
    once. ``joined`` must be listed among the call's branches, still ringing."""

    keep: str
    joined: str
    bye_released: bool = True


# -- actions -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Retarget:
    """After a transfer: the call now rings ``number`` for the kept party, who is the
    call's caller from now on (``swapped``: it was the callee until now)."""

    number: str
    swapped: bool


@dataclass(frozen=True, slots=True)
class Parked:
    """After ``Park``: the kept party is the caller from now on (``swapped`` as in
    ``Retarget``); nothing rings."""

    swapped: bool


@dataclass(frozen=True, slots=True)
class Spliced:
    """After ``Splice``: ``joined`` is about to be bridged with the kept party, who is
    the caller from now on (``swapped`` as in ``Retarget``); ``released`` left."""

    joined: str
    released: str
    swapped: bool
