"""One trunk's registration to its provider (RFC 3261 §10.2), sans IO.

The machine says when to send the next REGISTER (`next_at`) and what it carries
(`request()`: the expiry asked and the digest answer, if any); the caller sends it and
hands back what came (`answered()`, or `no_answer()` when no target answered). Time is
passed in, so the tests drive it with numbers.

- 401/407: answered with digest (MD5 or SHA-256, RFC 8760; the strongest offered),
  at once. A second challenge after an answer means the credentials are wrong, unless
  it says `stale=true`; at most `MAX_ROUNDS` requests per attempt, so a provider that
  challenges forever cannot make us spin.
- 423: the provider's Min-Expires is asked instead (bounded by the same rounds).
- 2xx: Registered for the expiry the provider granted (our Contact's `expires`, else
  the Expires header, else what we asked); refreshed before it runs out.
- Anything else, or no answer: Failure, and a retry after a backoff that doubles from
  `retry_min` to `retry_max` (a provider's Retry-After is honoured within those).
"""

from __future__ import annotations

from dataclasses import dataclass

from kilopbx.sip.digest import DigestChallenge, DigestError, build_authorization, parse_challenge

REGISTERING = "Registering"
REGISTERED = "Registered"
FAILURE = "Failure"
MAX_ROUNDS = 4  # requests in one attempt: challenge, stale nonce, 423, and the answer
MAX_EXPIRES = 86400
ALGORITHM_STRENGTH = {"SHA-256": 2, "SHA-256-SESS": 2, "MD5": 1, "MD5-SESS": 1}


@dataclass(frozen=True)
class RegisterPlan:
    """What the next REGISTER carries."""

    expires: int
    authorization: tuple[str, str] | None  # (header name, value)


@dataclass(frozen=True)
class Answer:
    """What the REGISTER's final response said, read by the IO side."""

    status: int
    challenges: tuple[str, ...] = ()  # WWW-Authenticate (401) / Proxy-Authenticate (407)
    granted: int | None = None  # expiry of our binding in a 2xx
    min_expires: int | None = None  # Min-Expires of a 423
    retry_after: int | None = None


def strongest_challenge(values: tuple[str, ...]) -> DigestChallenge | None:
    """The digest challenge with the strongest algorithm we know (RFC 8760 §2.4)."""
    best: DigestChallenge | None = None
    for value in values:
        try:
            challenge = parse_challenge(value)
        except DigestError:
            continue
        strength = ALGORITHM_STRENGTH.get(challenge.algorithm.upper(), 0)
        if strength and (best is None or strength > ALGORITHM_STRENGTH[best.algorithm.upper()]):
            best = challenge
    return best


def refresh_delay(granted: int) -> float:
    """When to refresh a binding granted for `granted` seconds: well before it ends."""
    if granted < 60:
        return max(1.0, granted / 2)
    return min(granted - 30.0, granted * 0.9)


class Registration:
    def __init__(
        self,
        *,
        user: str,
        password: str,
        uri: str,
        expires: int,
        retry_min: float,
        retry_max: float,
        now: float,
    ) -> None:
        self._user = user
        self._password = password
        self._uri = uri  # the Request-URI, which the digest answer covers
        self.expires = expires
        self.retry_min = retry_min
        self.retry_max = retry_max
        self.state = REGISTERING
        self.next_at: float | None = now  # None while a REGISTER is outstanding
        self.granted = 0
        self.registered_until = 0.0
        self.failures = 0  # attempts failed in a row
        self.last_status = 0
        self._challenge: DigestChallenge | None = None
        self._proxy = False
        self._nc = 0
        self._rounds = 0
        self._answered_challenge = False

    def __repr__(self) -> str:  # never shows the password
        return f"Registration(user={self._user!r}, state={self.state!r})"

    # -- the attempt ----------------------------------------------------------------------

    def request(self, now: float, *, expires: int | None = None) -> RegisterPlan:
        """The REGISTER to send now (`expires=0`: the farewell un-REGISTER)."""
        self.next_at = None
        self._rounds += 1
        if self.state != REGISTERED:
            self.state = REGISTERING
        authorization = None
        if self._challenge is not None:
            self._nc += 1
            value = build_authorization(
                self._challenge,
                method="REGISTER",
                uri=self._uri,
                username=self._user,
                password=self._password,
                nc=self._nc,
            )
            name = "Proxy-Authorization" if self._proxy else "Authorization"
            authorization = (name, value)
        return RegisterPlan(self.expires if expires is None else expires, authorization)

    def answered(self, answer: Answer, now: float) -> None:
        self.last_status = answer.status
        status = answer.status
        if 200 <= status < 300:
            self._succeeded(answer, now)
        elif status in (401, 407) and self._rounds < MAX_ROUNDS:
            challenge = strongest_challenge(answer.challenges)
            stale = challenge is not None and challenge.stale
            if challenge is None or (self._answered_challenge and not stale):
                self._failed(now, None)  # wrong credentials, or nothing we can answer
                return
            self._challenge, self._proxy, self._nc = challenge, status == 407, 0
            self._answered_challenge = True
            self.next_at = now
        elif status == 423 and self._rounds < MAX_ROUNDS and answer.min_expires:
            if self.expires < answer.min_expires <= MAX_EXPIRES:
                self.expires = answer.min_expires
                self.next_at = now
            else:
                self._failed(now, None)
        else:
            self._failed(now, answer.retry_after)

    def no_answer(self, now: float) -> None:
        """No target answered (timeout, transport error)."""
        self.last_status = 408
        self._failed(now, None)

    def restart(self, now: float) -> None:
        """Register again now (the network came back, a setting changed)."""
        self._new_attempt()
        self.next_at = now

    # -- outcomes -------------------------------------------------------------------------

    def _succeeded(self, answer: Answer, now: float) -> None:
        granted = self.expires if answer.granted is None else answer.granted
        granted = min(max(granted, 1), MAX_EXPIRES)
        self.state = REGISTERED
        self.granted = granted
        self.registered_until = now + granted
        self.failures = 0
        self._new_attempt()
        self.next_at = now + refresh_delay(granted)

    def _failed(self, now: float, retry_after: int | None) -> None:
        self.failures += 1
        self.state = FAILURE
        self._new_attempt()
        delay = min(self.retry_max, self.retry_min * 2 ** min(self.failures - 1, 20))
        if retry_after is not None:
            delay = min(self.retry_max, max(delay, float(retry_after)))
        self.next_at = now + delay

    def _new_attempt(self) -> None:
        self._rounds = 0
        self._answered_challenge = False
        self._challenge = None
        self._nc = 0
