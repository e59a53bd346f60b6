"""Request parsing of the group features: what each wire field turns into, and which
errno a bad value answers (no database, no network)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kilopbx.apps.conferences import wire as conference_wire
from kilopbx.apps.hotel import wire as hotel_wire
from kilopbx.apps.ivr import wire as ivr_wire
from kilopbx.apps.paging import wire as paging_wire
from kilopbx.apps.queues import wire as queue_wire
from kilopbx.apps.ring_groups import wire as ring_group_wire
from kilopbx.core.errors import DomainError
from tests.unit.wire_errors import wire_errno


def errno_of(call: Any, *args: Any) -> str:
    with pytest.raises(DomainError) as caught:
        call(*args)
    return wire_errno(caught.value)


class TestIvr:
    def test_settings(self) -> None:
        changes = ivr_wire.parse_settings(
            {"ivrname": "Menu", "promptrepeat": 3, "responsetimeout": "10", "dialext": "OFF"}
        )
        assert (changes.name, changes.prompt_repeat, changes.response_timeout) == ("Menu", 3, 10)
        assert changes.dial_extensions is False and changes.digit_timeout is None

    @pytest.mark.parametrize(
        "body",
        [
            {"promptrepeat": "6"},
            {"responsetimeout": 0},
            {"digittimeout": "x"},
            {"dialext": "yes"},
            {"ivrname": "a b"},
            {"selectedrouters": "ok,bad;name"},
        ],
    )
    def test_bad_settings_answer_10018(self, body: dict[str, Any]) -> None:
        assert errno_of(ivr_wire.parse_settings, body) == "10018"

    def test_ivrid_is_an_alias_of_number(self) -> None:
        assert ivr_wire.selected_number({"ivrid": 7301}) == "7301"
        assert ivr_wire.selected_number({"number": "1", "ivrid": "2"}) == "1"

    def test_keys(self) -> None:
        changes = ivr_wire.parse_destinations(
            {
                "keys": [
                    {"key": 1, "desttype": "Queue", "dest": 6400},
                    {"key": "*", "desttype": "none"},
                    {"key": 1, "desttype": "hangup"},  # the later entry for a key wins
                ],
                "timeoutdesttype": "RingGroup",
            }
        )
        assert [(k.key, k.dest_type, k.dest_value) for k in changes.keys] == [
            ("1", "hangup", None),
            ("*", None, None),
        ]
        assert changes.timeout_type == "ringgroup"

    @pytest.mark.parametrize(
        "keys",
        [
            "1",
            [{"key": "10", "desttype": "hangup"}],
            [{"key": "A", "desttype": "hangup"}],
            [{"key": "1", "desttype": "disa"}],
            [["1", "hangup"]],
            [{"key": str(i % 10), "desttype": "hangup"} for i in range(13)],
        ],
    )
    def test_bad_keys_answer_10018(self, keys: Any) -> None:
        assert errno_of(ivr_wire.parse_destinations, {"keys": keys}) == "10018"


class TestQueues:
    def test_enumerations_are_matched_loosely_and_spelled_exactly(self) -> None:
        changes = queue_wire.parse_changes(
            {
                "ringstrategy": "RING ALL",
                "failoveraction": "hangup",
                "breakoutaction": "dial by NAME",
                "breakoutkey": "none",
            }
        )
        assert changes.settings["ring_strategy"] == "ringall"
        assert (changes.failover_type, changes.breakout_type) == ("hangup", "dialbyname")
        assert changes.settings["breakout_key"] == "None"
        assert queue_wire.action_spelling("ringgroup") == "Ring Group"
        assert queue_wire.action_spelling("dialbyname") == "Dial by name"

    def test_join_switches_share_one_flag(self) -> None:
        both = queue_wire.parse_changes({"joinempty": "on", "disallow_to_join_when_empty": "on"})
        assert both.settings["join_when_empty"] is False
        assert queue_wire.parse_changes({"joinempty": "off"}).settings["join_when_empty"] is False

    def test_empty_conditions_are_sorted(self) -> None:
        changes = queue_wire.parse_changes({"empty_defined_for_leave_empty": "3, 1,3"})
        assert changes.settings["empty_conditions_leave"] == "1,3"

    @pytest.mark.parametrize(
        "body",
        [
            {"announcefreq": 61},
            {"password": "12 3"},
            {"agents": "1,2,x"},
            {"ringstrategy": "Ring_All"},
            {"failoveraction": "Voice mail"},
            {"empty_defined_for_leave_empty": "0"},
            {"breakoutkey": "**"},
            {"maxwaittime": "86401"},
        ],
    )
    def test_bad_values_answer_10019(self, body: dict[str, Any]) -> None:
        assert errno_of(queue_wire.parse_changes, body) == "10019"


class TestConferenceRooms:
    def test_fields(self) -> None:
        changes = conference_wire.parse_changes(
            {"participantepassword": 1234, "mute": True, "prompt": "EXTEN", "moderators": "1,2"}
        )
        assert changes.settings == {
            "participant_pin": "1234",
            "mute_on_entry": True,
            "announcement": "exten",
        }
        assert changes.moderators == ["1", "2"]

    @pytest.mark.parametrize(
        ("body", "errno"),
        [
            ({"moderatorpassword": "12#"}, "10101"),
            ({"waitformoderator": "on"}, "10101"),
            ({"prompt": ""}, "10101"),
            ({"name": "a|b"}, "10101"),
            ({"moderators": "1,x"}, "10006"),
        ],
    )
    def test_bad_values(self, body: dict[str, Any], errno: str) -> None:
        assert errno_of(conference_wire.parse_changes, body) == errno


class TestPaging:
    @pytest.mark.parametrize(
        ("text", "stored"),
        [("239.20.7.5", "239.20.7.5:5566"), ("224.0.0.1:1024", "224.0.0.1:1024")],
    )
    def test_multicast_addresses(self, text: str, stored: str) -> None:
        assert paging_wire.parse_multicast_address(text) == stored

    @pytest.mark.parametrize(
        "text", ["223.255.255.255", "239.1.1.1:1023", "239.1.1.1:5567", "239.01.1.1.1", "x"]
    )
    def test_bad_multicast_addresses(self, text: str) -> None:
        assert errno_of(paging_wire.parse_multicast_address, text) == "10101"

    def test_member_fields_wait_for_the_type(self) -> None:
        changes = paging_wire.parse_changes({"multicastip": "garbage", "member": "x"})
        assert changes.multicast_text == "garbage" and changes.member_text == "x"
        assert errno_of(paging_wire.parse_member_settings, changes) == "10006"
        too_many = paging_wire.PagingChanges(member_text=",".join(map(str, range(101))))
        assert errno_of(paging_wire.parse_member_settings, too_many) == "10101"


class TestHotel:
    @pytest.mark.parametrize(
        ("text", "minute"), [("00:00", 0), ("6:45", 405), ("23:59", 1439), (" 07:05 ", 425)]
    )
    def test_times(self, text: str, minute: int) -> None:
        assert hotel_wire.parse_time(text) == minute
        assert hotel_wire.format_time(minute) == f"{minute // 60:02d}:{minute % 60:02d}"

    @pytest.mark.parametrize(
        "text", ["24:00", "12:60", "1245", "12:5", "012:00", "12:00:00", "١٢:٠٠", "", "-1:00"]
    )
    def test_bad_times(self, text: str) -> None:
        assert errno_of(hotel_wire.parse_time, text) == "10020"

    def test_alarm_defaults_and_weekdays(self) -> None:
        alarm = hotel_wire.parse_alarm({"time": "7:00", "type": "Custom", "weekdays": "5,0,5"})
        assert (alarm.kind, alarm.weekdays, alarm.repeats, alarm.prompt) == (
            "custom",
            "0,5",
            None,
            None,
        )
        plain = hotel_wire.parse_alarm({"time": "7:00", "type": "everyday", "weekdays": "9"})
        assert plain.weekdays == ""  # ignored for other types

    def test_alarm_object_accepts_an_array(self) -> None:
        assert hotel_wire.alarm_object({"wakeup": [{"time": "1:00"}, {}]}) == {"time": "1:00"}
        assert errno_of(hotel_wire.alarm_object, {"wakeup": []}) == "10004"
        assert errno_of(hotel_wire.alarm_object, {"wakeup": "7:00"}) == "10020"

    def test_prompts_must_exist(self, tmp_path: Path) -> None:
        folder = tmp_path / hotel_wire.CUSTOM_PROMPT_DIR
        folder.mkdir(parents=True)
        (folder / "morning.wav").write_bytes(b"")
        hotel_wire.check_prompt("morning", tmp_path)
        hotel_wire.check_prompt("macroform-cold_day", tmp_path)
        for name in ["evening", "../morning", "morning.wav", ""]:
            assert errno_of(hotel_wire.check_prompt, name, tmp_path) == "10023"


class TestRingGroups:
    def test_fields(self) -> None:
        changes = ring_group_wire.parse_changes(
            {"strategy": "RRMEMORY", "ringtimeout": 5, "members": "1,2,1", "failoverdest": 7}
        )
        assert (changes.strategy, changes.ring_timeout, changes.members) == (
            "rrmemory",
            5,
            ["1", "2"],
        )
        assert changes.failover_value == "7"

    @pytest.mark.parametrize(
        "body",
        [{"strategy": "all"}, {"ringtimeout": 301}, {"members": "1;2"}, {"failoverdesttype": "x"}],
    )
    def test_bad_values_answer_10101(self, body: dict[str, Any]) -> None:
        assert errno_of(ring_group_wire.parse_changes, body) == "10101"
