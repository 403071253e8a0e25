"""The check-in policy: the safety logic of the dialogue."""

from __future__ import annotations

import pytest

from voiceguide.checkin import ANSWERS, Inbox, Policy, accepts, key_answer


def test_stop_ends_at_once_from_any_question():
    for gate in ANSWERS:
        assert Policy().after(gate, "stop") == "stop"


def test_good_same_and_no_answer_continue():
    policy = Policy()
    for word in ("good", "same", "none"):
        assert policy.after("between", word) == "continue"


def test_worse_asks_about_stop_signs_then_yes_stops_no_goes_gentler():
    policy = Policy()
    assert policy.after("between", "worse") == "ask-stop-signs"
    assert policy.after("stop-signs", "yes") == "stop"
    policy = Policy()
    policy.after("between", "worse")
    assert policy.after("stop-signs", "no") == "gentler"
    assert policy.after("stop-signs", "none") == "gentler"


def test_a_second_worse_ends_with_the_cool_down():
    policy = Policy()
    policy.after("between", "worse")
    policy.after("stop-signs", "no")
    assert policy.after("between", "good") == "continue"
    assert policy.after("between", "worse") == "cooldown"


@pytest.mark.parametrize("gate, key, word", [
    ("between", "g", "good"), ("between", "\r", "good"), ("between", "a", "same"),
    ("between", "w", "worse"), ("between", "s", "stop"), ("between", "S", "stop"),
    ("baseline", "7", "7"), ("final", "t", "10"), ("stop-signs", "y", "yes"),
    ("stop-signs", "n", "no"), ("daily-limit", "n", "no"), ("between", "x", None),
])
def test_keys_per_question(gate, key, word):
    assert key_answer(gate, key) == word


def test_answers_must_fit_the_question():
    assert accepts("baseline", "7") and not accepts("baseline", "good")
    assert accepts("between", "same") and not accepts("between", "yes")
    assert all(accepts(gate, "stop") for gate in ANSWERS)


def test_inbox_keeps_order_and_clears():
    inbox = Inbox()
    inbox.put("good", "voice")
    inbox.put("stop", "key")
    assert inbox.poll().word == "good"
    inbox.clear()
    assert inbox.poll() is None and inbox.wait(0.01) is None
