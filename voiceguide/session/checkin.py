"""Check-ins: the questions, their keys, their answers from every source, and the policy.

Answers come from keys, voice and the timeout into one :class:`Inbox`; the gate
takes the first answer that fits the question (:mod:`voiceguide.session.dialogue`
waits for it). What each key means at a question, and around one (``n`` is
"no" while a yes-or-no question is asked, a late ``y`` or ``n`` is ignored), is
here too (:func:`gate_key`, :class:`KeyRules`). The policy (:class:`Policy`) is
the safety logic of the dialogue:

* ``stop`` (or a stop sign, which the recogniser reports as ``stop``) ends the
  routine at once with the safety message;
* ``worse`` does too: increased pain is one of the sources' stop signs;
* ``good``, ``same``, a pain number or no answer go on, acknowledged in a few words;
* a last pain score higher than the first (:func:`pain_rose`) is answered in place of
  the closing's own words: the pain went up, which is a sign to stop these exercises
  for now and to see a professional if it does not settle.
"""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass

from voiceguide import StrEnum
from voiceguide.timing.timeline import Gate
from voiceguide.trace import trace
from voiceguide.vocabulary import GOOD, NO, NO_ANSWER, NUMBERS, SAME, STOP, WORSE, YES

#: What each question accepts. ``stop`` is accepted everywhere.
ACCEPTED = {
    Gate.BETWEEN: (GOOD, SAME, WORSE, STOP),
    Gate.BASELINE: NUMBERS + (STOP,),
    Gate.FINAL: NUMBERS + (STOP,),
    Gate.DAILY_LIMIT: (YES, NO, STOP),
    Gate.CONFIRM_STOP: (YES, NO, "resume", STOP),
}

_PAIN_KEYS = {**{str(n): str(n) for n in range(10)}, "t": "10", "s": STOP}

#: Keys at a check-in, by question.
KEYS = {
    Gate.BETWEEN: {"g": GOOD, "\n": GOOD, "\r": GOOD, "a": SAME, "w": WORSE,
                   "s": STOP},
    Gate.BASELINE: _PAIN_KEYS,
    Gate.FINAL: _PAIN_KEYS,
    Gate.DAILY_LIMIT: {"y": YES, "n": NO, "\n": YES, "\r": YES, "s": STOP},
    Gate.CONFIRM_STOP: {"y": YES, "n": NO, "s": STOP},
}

#: How the keys are shown on the status line.
KEY_HELP = {
    Gate.BETWEEN: "g good, a same, w worse, s stop",
    Gate.BASELINE: "0-9, t for 10, s stop",
    Gate.FINAL: "0-9, t for 10, s stop",
    Gate.DAILY_LIMIT: "y yes, n no",
    Gate.CONFIRM_STOP: "y yes, n no",
}

#: What :func:`gate_key` gives for the key that quits.
QUIT = "quit"
#: What :meth:`KeyRules.around` gives for a key that answers the question being asked.
KEEP = "keep"
LATE_KEY_WINDOW = 5.0     # seconds after a yes/no question timed out: y/n are ignored


class Decision(StrEnum):
    """What follows an answer."""

    STOP = "stop"           # the stop path
    CONTINUE = "continue"   # acknowledged, then on with the routine
    NOT_TODAY = "not-today"   # pain too strong to start: no exercise today


@dataclass(frozen=True)
class Answer:
    """What was answered, and how: ``key``, ``voice`` or ``timeout``."""

    word: str
    source: str
    at: float = 0.0
    sure: bool = True     # False: the recognizer only thinks it may be this word


class Inbox:
    """Where every answer source puts what it heard (thread-safe)."""

    def __init__(self):
        self._queue: queue.Queue[Answer] = queue.Queue()

    def put(self, word: str, source: str, sure: bool = True) -> None:
        """Offer a word (``sure`` False when the recognizer is unsure of it)."""
        self._queue.put(Answer(word, source, time.monotonic(), sure))

    def hear(self, heard) -> None:
        """Offer what the recognizer heard (anything with ``.word`` and ``.sure``)."""
        self.put(heard.word, "voice", heard.sure)

    def clear(self) -> None:
        """Forget words heard before the question was asked."""
        while self.poll() is not None:
            pass

    def poll(self) -> Answer | None:
        """The next word, if any, without waiting."""
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            return None

    def wait(self, timeout: float) -> Answer | None:
        """The next word within ``timeout`` seconds, or ``None``."""
        try:
            return self._queue.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None


def key_answer(gate: Gate, key: str) -> str | None:
    """The answer a key gives at a ``gate`` question, if any."""
    keys = KEYS[gate]
    return keys.get(key, keys.get(key.lower()))


def gate_key(gate: Gate, key: str) -> str | None:
    """What a key does at the open ``gate`` question: the answer it gives (``n``,
    at a question not answered yes or no, is no answer: on to the next),
    :data:`QUIT`, or ``None`` (nothing)."""
    word = key_answer(gate, key)
    if word is not None:
        return word
    if key in "qQ":
        return QUIT
    if key in "nN" and not is_yes_no(gate):
        return NO_ANSWER
    return None


class KeyRules:
    """What a key means while no gate is open, around the check-in questions.

    ``n`` is "no" while a yes-or-no question is asked, and a ``y`` or ``n``
    pressed within :data:`LATE_KEY_WINDOW` seconds after such a question went
    unanswered is ignored (it was meant for that question, not "next").
    """

    def __init__(self):
        self.yes_no_closed_at = -1e9   # when a yes/no question last timed out

    def timed_out(self, gate: Gate) -> None:
        """The ``gate`` question went unanswered."""
        if is_yes_no(gate):
            self.yes_no_closed_at = time.monotonic()

    def around(self, key: str, asking: Gate | None, control: str | None) -> str | None:
        """What ``key`` does: :data:`KEEP` (an answer to the question ``asking``, whose
        chime or words play), ``control`` (what the key does to play otherwise),
        :data:`STOP` for ``s``, or ``None`` (nothing)."""
        lower = key.lower()
        if lower in ("y", "n") and asking is not None and is_yes_no(asking):
            return KEEP
        if lower in ("y", "n") and time.monotonic() - self.yes_no_closed_at < LATE_KEY_WINDOW:
            trace("late-key", key=key)    # meant for a question that timed out
            return None
        if control:
            return control
        if lower == "s":
            return STOP
        return KEEP if asking is not None else None


def is_yes_no(gate: Gate) -> bool:
    """True for a question answered yes or no (where ``n`` means no, not next)."""
    return "y" in KEYS.get(gate, {})


def accepts(gate: Gate, word: str) -> bool:
    """True if ``word`` answers the ``gate`` question."""
    return word in ACCEPTED[gate]


#: A first pain score from which no exercise is done that day (severe pain is for a
#: professional first: FACTS, When to seek professional help).
SEVERE_PAIN = 7


class Policy:
    """Decides what follows each answer: the sources' stop rule."""

    def after(self, gate: Gate, word: str) -> Decision:
        """``stop`` for stop and for worse (increased pain is a stop sign);
        ``not-today`` for a first pain score of :data:`SEVERE_PAIN` or more; else
        ``continue``."""
        if word == STOP or (gate == Gate.BETWEEN and word == WORSE):
            return Decision.STOP
        if gate == Gate.BASELINE and word in NUMBERS and int(word) >= SEVERE_PAIN:
            return Decision.NOT_TODAY
        return Decision.CONTINUE


def acknowledgement(gate: Gate, word: str, phrases) -> str | None:
    """The few words said after an answer that goes on (``None``: say nothing)."""
    words = phrases.acknowledge
    if word == NO_ANSWER:
        return words[NO_ANSWER]
    if gate == Gate.BETWEEN and word in (GOOD, SAME):
        return words[word]
    if Gate(gate).asks_pain and word in NUMBERS:
        return words["pain"]
    return None


def pain_rose(first: str | None, gate: Gate, word: str) -> bool:
    """True when ``word``, the answer at ``gate``, is a last pain score higher than
    ``first``, the first score (``None`` when none was given)."""
    return (gate == Gate.FINAL and first in NUMBERS and word in NUMBERS
            and int(word) > int(first))
