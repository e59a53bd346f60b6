"""The message-summary subscriptions (RFC 3842 / RFC 6665), without any SIP traffic."""

from __future__ import annotations

from kilopbx.apps.voicemail.mwi import (
    DEFAULT_EXPIRES,
    MAX_EXPIRES,
    MAX_PER_MAILBOX,
    MwiSubscriptions,
    check_subscribe,
    state_header,
    summary,
)


def test_event_accept_and_expires_checks() -> None:
    assert check_subscribe("message-summary", [], None).expires == DEFAULT_EXPIRES
    assert check_subscribe("Message-Summary;id=1", [], "600").expires == 600
    assert check_subscribe("message-summary", [], "99999").expires == MAX_EXPIRES
    assert check_subscribe("message-summary", [], "0").expires == 0  # a fetch
    short = check_subscribe("message-summary", [], "10")
    assert short.status == 423 and ("Min-Expires", "60") in short.headers
    for bad in ("-1", "abc", "1" * 20, "１２０"):
        assert check_subscribe("message-summary", [], bad).status == 400, bad
    for event in (None, "", "presence", "dialog", "message-summary-x"):
        verdict = check_subscribe(event, [], "600")
        assert verdict.status == 489 and ("Allow-Events", "message-summary") in verdict.headers
    ok = ["application/simple-message-summary;q=1", "text/plain"]
    assert check_subscribe("message-summary", ok, "600").status == 200
    assert check_subscribe("message-summary", ["*/*"], "600").status == 200
    assert check_subscribe("message-summary", ["application/pidf+xml"], "600").status == 406


def test_subscriptions_refresh_expire_and_end() -> None:
    subs = MwiSubscriptions()
    a = subs.subscribe("dialog-a", "2003", 600, now=100.0)
    subs.subscribe("dialog-b", "2002", 60, now=100.0)
    assert [s.key for s in subs.watching("2003")] == ["dialog-a"]
    assert subs.next_expiry() == 160.0
    subs.subscribe("dialog-b", "2002", 600, now=150.0)  # refreshed in time
    assert subs.expire(now=200.0) == []
    gone = subs.expire(now=750.0)
    assert sorted(s.key for s in gone) == ["dialog-a", "dialog-b"] and len(subs) == 0
    assert state_header(a.expires_at, 750.0) == "terminated;reason=timeout"
    c = subs.subscribe("dialog-c", "2003", 600, now=0.0)
    assert state_header(c.expires_at, 100.0) == "active;expires=500"
    ended = subs.subscribe("dialog-c", "2003", 0, now=10.0)  # unsubscribe
    assert not subs.subscribed("2003") and state_header(ended.expires_at, 10.0).startswith(
        "terminated"
    )


def test_admission_is_bounded_per_mailbox() -> None:
    subs = MwiSubscriptions()
    for i in range(MAX_PER_MAILBOX):
        assert subs.admit("2003")
        subs.subscribe(i, "2003", 600, now=0.0)
    assert not subs.admit("2003") and subs.admit("2002")


def test_summary_body() -> None:
    body = summary(2, 1, "sip:2003@127.0.0.1").decode()
    assert body.startswith("Messages-Waiting: yes\r\n")
    assert "Message-Account: sip:2003@127.0.0.1\r\n" in body
    assert "Voice-Message: 2/1 (0/0)\r\n" in body
    assert summary(0, 4, "sip:x@y").startswith(b"Messages-Waiting: no\r\n")
