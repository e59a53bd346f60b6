"""The IVR menu state machine: prompts, timeouts, keys, dial-by-extension, invalid
input and repeat counts, with time passed in."""

from __future__ import annotations

from kilopbx.apps.ivr.menu import (
    INVALID_PROMPT,
    MAX_INPUT,
    Arm,
    Collected,
    Done,
    IvrMenu,
    MenuSettings,
    Play,
    StopPrompt,
)
from kilopbx.apps.ring_groups.destinations import Destination

EXTENSIONS = {"2001", "2002", "201", "2015"}
SALES = Destination("extension", "2002")
MENU = Destination("ivr", "6201")
TIMEOUT = Destination("ringgroup", "6300")
INVALID = Destination("hangup")


def menu(
    repeat: int = 2, dial: bool = True, voicemail: bool = False, **keys: Destination
) -> IvrMenu:
    settings = MenuSettings(
        number="6200",
        prompt="main-menu",
        prompt_repeat=repeat,
        response_timeout=5,
        digit_timeout=3,
        dial_extensions=dial,
        check_voicemail=voicemail,
        keys={"1": SALES, "9": MENU, "#": Destination("hangup"), **keys},
        timeout=TIMEOUT,
        invalid=INVALID,
    )
    return IvrMenu(
        settings,
        EXTENSIONS.__contains__,
        lambda prefix: any(n.startswith(prefix) and n != prefix for n in EXTENSIONS),
    )


def test_a_key_with_a_destination_is_taken_at_once() -> None:
    m = menu()
    assert m.start(0) == [Play(("main-menu",))]
    assert m.prompt_ended(4) == [Arm(9)]
    assert m.digit("1", 6) == [Collected("1", 0, "1"), Done(SALES, "key")]
    assert m.digit("1", 7) == [] and m.timer(100) == []


def test_a_key_during_the_prompt_cuts_it_short() -> None:
    m = menu()
    m.start(0)
    assert m.digit("9", 1) == [StopPrompt(), Collected("9", 0, "9"), Done(MENU, "key")]
    assert m.prompt_ended(1.1) == []


def test_no_key_replays_the_menu_then_goes_to_the_timeout_destination() -> None:
    m = menu(repeat=2)
    m.start(0)
    m.prompt_ended(4)
    assert m.timer(8.9) == []  # not yet
    assert m.timer(9) == [Play(("main-menu",))]
    assert m.prompt_ended(13) == [Arm(18)]
    assert m.timer(18) == [Done(TIMEOUT, "timeout")]


def test_one_play_only_goes_straight_to_the_timeout_destination() -> None:
    m = menu(repeat=1)
    m.start(0)
    m.prompt_ended(2)
    assert m.timer(7) == [Done(TIMEOUT, "timeout")]


def test_an_unmapped_key_is_invalid_input() -> None:
    m = menu(repeat=2)
    m.start(0)
    m.prompt_ended(1)
    assert m.digit("5", 2) == [Collected("5", 0, "5"), Play((INVALID_PROMPT, "main-menu"))]
    m.prompt_ended(5)
    # each attempt collects a fresh input: the position restarts at 0
    assert m.digit("7", 6) == [Collected("7", 0, "7"), Done(INVALID, "invalid")]


def test_dial_by_extension_waits_between_digits() -> None:
    m = menu()
    m.start(0)
    m.prompt_ended(1)
    assert m.digit("2", 2) == [Collected("2", 0, "2"), Arm(5)]
    assert m.digit("0", 3) == [Collected("0", 1, "20"), Arm(6)]
    assert m.digit("0", 4) == [Collected("0", 2, "200"), Arm(7)]
    assert m.digit("2", 5) == [Collected("2", 3, "2002"), Done(SALES, "extension")]


def test_a_shorter_extension_is_taken_when_the_digit_timeout_expires() -> None:
    m = menu()
    m.start(0)
    m.prompt_ended(1)
    m.digit("2", 2)
    m.digit("0", 3)
    assert m.digit("1", 4) == [Collected("1", 2, "201"), Arm(7)]  # 2010... could follow
    assert m.timer(7) == [Done(Destination("extension", "201"), "extension")]


def test_pound_ends_the_input() -> None:
    m = menu()
    m.start(0)
    m.prompt_ended(1)
    m.digit("2", 2)
    m.digit("0", 2.5)
    m.digit("1", 3)
    assert m.digit("#", 3.5) == [Done(Destination("extension", "201"), "extension")]


def test_pound_alone_is_its_own_key() -> None:
    m = menu()
    m.start(0)
    assert m.digit("#", 1) == [
        StopPrompt(),
        Collected("#", 0, "#"),
        Done(Destination("hangup"), "key"),
    ]


def test_an_unknown_number_is_invalid_when_the_digits_stop() -> None:
    m = menu(repeat=1)
    m.start(0)
    m.prompt_ended(1)
    m.digit("2", 2)
    assert m.timer(5) == [Done(INVALID, "invalid")]


def test_without_dial_by_extension_digits_are_only_keys() -> None:
    m = menu(dial=False, repeat=1)
    m.start(0)
    m.prompt_ended(1)
    assert m.digit("2", 2) == [Collected("2", 0, "2"), Done(INVALID, "invalid")]


def test_endless_input_is_cut() -> None:
    m = IvrMenu(
        MenuSettings("6200", "p", 1, 5, 3, True),
        lambda number: False,
        lambda prefix: True,  # a directory that always promises more
    )
    m.start(0)
    actions = []
    for i in range(30):
        actions += m.digit("3", float(i))
    assert actions[-1] == Done(Destination("hangup"), "invalid")
    assert sum(isinstance(a, Collected) for a in actions) == MAX_INPUT


def test_the_voicemail_codes_enter_the_voicemail_menu_when_allowed() -> None:
    for code in ("*97", "*98"):
        m = menu(dial=False, voicemail=True)
        m.start(0)
        m.prompt_ended(1)
        assert m.digit("*", 2) == [Collected("*", 0, "*"), Arm(5)]
        assert m.digit("9", 3) == [Collected("9", 1, "*9"), Arm(6)]
        assert m.digit(code[2], 4) == [
            Collected(code[2], 2, code),
            Done(Destination("voicemail-listen", code), "voicemail"),
        ]


def test_the_voicemail_codes_are_invalid_when_not_allowed_or_wrong() -> None:
    m = menu(dial=False, voicemail=False, repeat=1)
    m.start(0)
    m.prompt_ended(1)
    assert m.digit("*", 2) == [Collected("*", 0, "*"), Done(INVALID, "invalid")]
    m = menu(dial=False, voicemail=True, repeat=1)
    m.start(0)
    m.prompt_ended(1)
    m.digit("*", 2)
    assert m.digit("8", 3) == [Collected("8", 1, "*8"), Done(INVALID, "invalid")]
    m = menu(dial=False, voicemail=True, repeat=1)
    m.start(0)
    m.prompt_ended(1)
    m.digit("*", 2)
    m.digit("9", 3)
    assert m.timer(6) == [Done(INVALID, "invalid")]  # "*9" and the keys stopped
    m = menu(dial=False, voicemail=True)  # a key with a destination is still taken at once
    m.start(0)
    assert m.digit("1", 1) == [StopPrompt(), Collected("1", 0, "1"), Done(SALES, "key")]


def dial_out_menu(dial: bool = False) -> IvrMenu:
    settings = MenuSettings(
        number="6200", prompt="main-menu", prompt_repeat=1, response_timeout=5,
        digit_timeout=3, dial_extensions=dial, dial_out=True, keys={"1": SALES},
        timeout=TIMEOUT, invalid=INVALID,
    )  # fmt: skip
    return IvrMenu(
        settings,
        EXTENSIONS.__contains__,
        lambda prefix: any(n.startswith(prefix) and n != prefix for n in EXTENSIONS),
    )


def test_dialling_out_collects_digits_until_pound_or_the_digit_timeout() -> None:
    m = dial_out_menu()
    m.start(0)
    m.prompt_ended(1)
    for i, key in enumerate("9441"):
        assert m.digit(key, 2 + i)[-1] == Arm(5 + i)  # any number may go on
    assert m.digit("#", 6) == [Done(Destination("outbound", "9441"), "outside")]
    m = dial_out_menu()
    m.start(0)
    m.prompt_ended(1)
    m.digit("0", 2)
    m.digit("6", 3)
    assert m.timer(6) == [Done(Destination("outbound", "06"), "outside")]


def test_dialling_out_keeps_keys_extensions_and_refuses_other_input() -> None:
    m = dial_out_menu(dial=True)
    m.start(0)
    m.prompt_ended(1)
    assert m.digit("1", 2) == [Collected("1", 0, "1"), Arm(5)]  # "12..." could follow
    assert m.timer(5) == [Done(SALES, "key")]
    m = dial_out_menu(dial=True)
    m.start(0)
    m.prompt_ended(1)
    for key in "2002":
        m.digit(key, 2)
    assert m.digit("#", 2) == [Done(SALES, "extension")]  # an extension is rung, not dialled out
    m = dial_out_menu(dial=False)
    m.start(0)
    m.prompt_ended(1)
    assert m.digit("*", 2) == [Collected("*", 0, "*"), Done(INVALID, "invalid")]  # no number
    m = dial_out_menu()
    m.start(0)
    m.prompt_ended(1)
    actions: list[object] = []
    for _ in range(24):
        actions = m.digit("9", 2)
    assert actions[-1] == Done(Destination("outbound", "9" * 24), "outside")  # input ends
