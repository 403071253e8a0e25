"""The check-in policy: the safety logic of the dialogue."""

from __future__ import annotations

import pytest

from voiceguide import catalog
from voiceguide.session.checkin import ACCEPTED as ANSWERS, Inbox, Policy, accepts, acknowledgement, key_answer


def test_stop_ends_at_once_from_any_question():
    for gate in ANSWERS:
        assert Policy().after(gate, "stop") == "stop"


def test_good_same_and_no_answer_continue():
    policy = Policy()
    for word in ("good", "same", "none"):
        assert policy.after("between", word) == "continue"


def test_worse_stops_like_stop_increased_pain_is_a_stop_sign():
    policy = Policy()
    assert policy.after("between", "good") == "continue"
    assert policy.after("between", "worse") == "stop"
    assert Policy().after("between", "worse") == "stop"   # the first worse, too


def test_answers_that_go_on_are_acknowledged_in_a_few_words():
    phrases = catalog.load_phrases()
    assert acknowledgement("between", "good", phrases) == "Good."
    assert acknowledgement("between", "none", phrases) == "No answer, we'll go on."
    assert acknowledgement("baseline", "4", phrases) == phrases.acknowledge["pain"]
    for words in phrases.acknowledge.values():
        assert len(words.split()) <= 5


@pytest.mark.parametrize("gate, key, word", [
    ("between", "g", "good"), ("between", "\r", "good"), ("between", "a", "same"),
    ("between", "w", "worse"), ("between", "s", "stop"), ("between", "S", "stop"),
    ("baseline", "7", "7"), ("final", "t", "10"), ("daily-limit", "y", "yes"),
    ("daily-limit", "n", "no"), ("between", "x", None),
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
