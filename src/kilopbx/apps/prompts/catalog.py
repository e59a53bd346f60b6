"""The system prompts: every sentence the PBX can say, and numbers read out.

Names are what applications ask for (`SoundLibrary.prompt(name)`); the texts are
spoken by espeak-ng at first start (`generate.py`). An administrator replaces any
of them with a custom prompt of the same name.
"""

from __future__ import annotations

from datetime import datetime

_DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen"
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety"
_WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday"
_MONTHS = "January February March April May June July August September October November December"

SYSTEM_PROMPTS: dict[str, str] = {
    # IVR
    "ivr-welcome": "Welcome.",
    "ivr-menu": "Thank you for calling. Please enter the extension you wish to reach, "
    "or stay on the line.",
    "ivr-invalid": "That is not a valid entry. Please try again.",
    "ivr-timeout": "We did not receive your entry.",
    "unavailable": "The number you have dialled is not available.",
    "goodbye": "Goodbye.",
    "please-hold": "Please hold while we connect your call.",
    # outbound routes with a PIN
    "enter-pin": "Please enter your PIN, followed by the pound key.",
    "pin-incorrect": "That PIN is not correct. Goodbye.",
    # voicemail
    "vm-greeting": "The person you are calling is not available. "
    "Please leave a message after the tone.",
    # the busy greeting: "The person at extension" 2 0 0 2 "is on the phone..."
    "vm-person-at-extension": "The person at extension",
    "vm-is-on-the-phone": "is on the phone. Please leave a message after the tone.",
    "vm-instructions": "When you have finished, hang up, or press the pound key.",
    "vm-password": "Please enter your voicemail password, followed by the pound key.",
    "vm-login-incorrect": "Login incorrect.",
    "vm-too-many-attempts": "Too many incorrect attempts. Goodbye.",
    "vm-you-have": "You have",
    "vm-new-messages": "new messages.",
    "vm-new-message": "new message.",
    "vm-old-messages": "saved messages.",
    "vm-no-messages": "You have no messages.",
    "vm-message": "Message",
    "vm-from": "from",
    "vm-received": "received",
    "vm-mailbox": "Please enter your mailbox number, followed by the pound key.",
    "vm-main-menu": "To listen to your new messages, press 1. For your saved messages, "
    "press 2. To record your unavailable greeting, press 3. To record your busy greeting, "
    "press 4. To end the call, press pound.",
    "vm-message-menu": "To hear this message again, press 1. To delete it, press 7. "
    "To save it, press 9. For the next message, press pound.",
    "vm-deleted": "Message deleted.",
    "vm-saved": "Message saved.",
    "vm-no-more-messages": "No more messages.",
    "vm-record-greeting": "Record your greeting after the tone. Press pound when you are done.",
    "vm-record-busy-greeting": "Record the greeting callers hear when you are on the phone, "
    "after the tone. Press pound when you are done.",
    "vm-greeting-saved": "Your greeting has been saved.",
    "vm-greeting-too-short": "Your greeting was too short. It has not been saved.",
    "vm-message-saved": "Your message has been recorded. Goodbye.",
    "vm-mailbox-full": "The mailbox is full. Goodbye.",
    # hotel
    "wakeup-call": "Good morning. This is your wake-up call.",
    "wakeup-menu": "To snooze for ten minutes, press 1. To end the call, press 2.",
    # queues
    "queue-welcome": "Thank you for calling. All our agents are busy. "
    "Please hold, your call is important to us.",
    "queue-position": "You are caller number",
    "queue-wait-time": "Your expected waiting time is",
    "queue-minutes": "minutes.",
    "queue-thank-you": "Thank you for holding. Your call will be answered shortly.",
    "queue-agent-login": "You are logged in.",
    "queue-agent-logout": "You are logged out.",
    # feature codes and calls
    "feature-on": "Activated.",
    "feature-off": "Deactivated.",
    "your-extension-is": "Your extension number is",
    "call-recorded": "This call may be recorded.",
    "recording-started": "Recording started.",
    "recording-stopped": "Recording stopped.",
    "parked-at": "The call is parked at",
    "conference-pin": "Please enter the conference PIN.",
    "conference-joined": "You are now in the conference.",
    "conference-only-person": "You are the only person in this conference.",
    "echo-test": "This is the echo test. Speak, and you will hear yourself.",
    "pbx-error": "Sorry, your call cannot be completed. Please try again later.",
    # digits and number words, for read-outs (`number_prompts`, `digit_prompts`)
    **{f"digit-{d}": word for d, word in enumerate(_DIGITS)},
    "digit-star": "star",
    "digit-pound": "pound",
    **{f"number-{n}": word for n, word in zip(range(10, 20), _TEENS.split(), strict=True)},
    **{f"number-{n}": word for n, word in zip(range(20, 100, 10), _TENS.split(), strict=True)},
    "number-hundred": "hundred",
    "number-thousand": "thousand",
    "number-million": "million",
    # dates and times, for the message envelope (`date_time_prompts`)
    **{f"day-{n}": word for n, word in enumerate(_WEEKDAYS.split())},
    **{f"month-{n}": word for n, word in enumerate(_MONTHS.split(), start=1)},
    "time-at": "at",
    "time-oh": "oh",
    "time-oclock": "o'clock",
    "time-am": "A M",
    "time-pm": "P M",
}

HOLD_MUSIC = "hold-music"  # not spoken: generated music (`holdmusic.py`)


def number_prompts(value: int) -> list[str]:
    """The prompt names that read `value` out as a number ("three hundred twelve")."""
    if value < 0:
        raise ValueError("only numbers from zero up can be read out")
    if value < 10:
        return [f"digit-{value}"]
    if value < 20:
        return [f"number-{value}"]
    if value < 100:
        tens, units = divmod(value, 10)
        return [f"number-{tens * 10}", *([f"digit-{units}"] if units else [])]
    for size, word in ((1_000_000, "million"), (1000, "thousand"), (100, "hundred")):
        if value >= size:
            high, rest = divmod(value, size)
            tail = number_prompts(rest) if rest else []
            return [*number_prompts(high), f"number-{word}", *tail]
    raise AssertionError("unreachable")  # pragma: no cover


def digit_prompts(digits: str) -> list[str]:
    """The prompt names that read keys out one by one ("two zero zero one")."""
    names = {"*": "digit-star", "#": "digit-pound"}
    return [names.get(d, f"digit-{d}") for d in digits if d.isdigit() or d in names]


def date_time_prompts(moment: datetime) -> list[str]:
    """The prompt names that read a moment out on a 12-hour clock: "Tuesday March
    twelve at three oh five P M" (`day-1`, `month-3`, `number-12`, `time-at`,
    `digit-3`, `time-oh`, `digit-5`, `time-pm`)."""
    hour = moment.hour % 12 or 12
    if moment.minute == 0:
        minutes = ["time-oclock"]
    elif moment.minute < 10:
        minutes = ["time-oh", f"digit-{moment.minute}"]
    else:
        minutes = number_prompts(moment.minute)
    return [
        f"day-{moment.weekday()}",
        f"month-{moment.month}",
        *number_prompts(moment.day),
        "time-at",
        *number_prompts(hour),
        *minutes,
        "time-am" if moment.hour < 12 else "time-pm",
    ]
