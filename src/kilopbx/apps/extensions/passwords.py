"""The strong-password policy of spec 21 and a generator that always satisfies it."""

from __future__ import annotations

import hashlib
import itertools
import secrets
import string

PASSWORD_SYMBOLS = "~^*-_?"
PASSWORD_ALPHABET = frozenset(string.ascii_letters + string.digits + PASSWORD_SYMBOLS)
SIP_PASSWORD_MIN = 16
LOGIN_PASSWORD_MIN = 10
PASSWORD_MAX = 63
# a run this long of ascending, descending or repeated digits ("123", "987", "555") is
# what the policy calls "consecutive digits"
DIGIT_RUN = 3
# a name or number shorter than this is not searched for inside the password: a one-letter
# display name would otherwise forbid that letter everywhere
MIN_CONTAINED = 3


def has_digit_run(text: str) -> bool:
    run_up = run_down = run_same = 1
    for prev, cur in itertools.pairwise(text):
        if prev.isdigit() and cur.isdigit():
            step = int(cur) - int(prev)
            run_up = run_up + 1 if step == 1 else 1
            run_down = run_down + 1 if step == -1 else 1
            run_same = run_same + 1 if step == 0 else 1
        else:
            run_up = run_down = run_same = 1
        if max(run_up, run_down, run_same) >= DIGIT_RUN:
            return True
    return False


def weakness(password: str, *, min_length: int, number: str, username: str) -> str | None:
    """Why `password` breaks the strong policy, or None when it is fine."""
    if len(password) < min_length:
        return f"shorter than {min_length} characters"
    if len(password) > PASSWORD_MAX:
        return f"longer than {PASSWORD_MAX} characters"
    if not set(password) <= PASSWORD_ALPHABET:
        return f"only letters, digits and {PASSWORD_SYMBOLS} are allowed"
    if not any(c.islower() for c in password):
        return "needs a lower-case letter"
    if not any(c.isupper() for c in password):
        return "needs an upper-case letter"
    if not any(c.isdigit() for c in password):
        return "needs a digit"
    if has_digit_run(password):
        return "contains a run of consecutive digits"
    lowered = password.lower()
    for name, value in (("extension number", number), ("user name", username)):
        if len(value) >= MIN_CONTAINED and value.lower() in lowered:
            return f"contains the {name}"
    return None


def generate_password(length: int, *, number: str = "", username: str = "") -> str:
    """A random password of letters and digits that passes `weakness`."""
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if weakness(candidate, min_length=length, number=number, username=username) is None:
            return candidate


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()
