"""The prefix index gives every route that could match a number, in evaluation order,
and agrees with trying every route in turn."""

from __future__ import annotations

import random

from kilopbx.apps.routes.patterns import compile_pattern
from kilopbx.apps.routes.rule_index import PrefixIndex, literal_prefix


def test_literal_prefix() -> None:
    assert literal_prefix("4402XXX") == "4402"
    assert literal_prefix("9.") == "9"
    assert literal_prefix("+44[1-3]X") == "+44"
    assert literal_prefix("") == "" and literal_prefix("X.") == ""
    assert literal_prefix("112") == "112"


def test_candidates_keep_the_evaluation_order() -> None:
    index = PrefixIndex([("9.", "a"), ("", "any"), ("90X.", "b"), ("8", "c"), ("9", "d")])
    assert index.candidates("9012") == ["a", "any", "b", "d"]
    assert index.candidates("812") == ["any", "c"]
    assert index.candidates("") == ["any"]
    assert len(index) == 5


def test_the_index_agrees_with_a_full_scan() -> None:
    rng = random.Random(9)
    alphabet = "0123456789XZN"
    texts = [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) + rng.choice(["", ".", "!"])
        for _ in range(300)
    ]
    patterns = [compile_pattern(text, "bad") for text in texts]
    index = PrefixIndex([(p.text, p) for p in patterns])
    for _ in range(2000):
        number = "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 9)))
        first = next((p for p in patterns if p.matches(number)), None)
        found = next((p for p in index.candidates(number) if p.matches(number)), None)
        assert found is first, (number, first, found)
