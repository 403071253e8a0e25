"""The words a person may say to voiceguide: the one place they are listed.

Every part that deals in spoken words takes them from here: the recognizer's
language model (what it can hear, and what each heard word means), the
check-in questions (what each accepts) and the player (which of the guide's
own lines say a stop word, so barge-in does not listen to them).

An *answer* is what a check-in or a command receives, always one of
:data:`ANSWERS`: a feeling, a pain number, yes or no, a command, or
:data:`NO_ANSWER`. Stop signs (sharp or shooting pain, numbness, tingling,
weakness) are answered :data:`STOP`, like "stop" itself: each ends the routine
with the stop path.
"""

from __future__ import annotations

import re

#: Stop the routine now, with the safety message (also what every stop sign means).
STOP = "stop"
#: Nothing usable was heard, or nobody answered.
NO_ANSWER = "none"

#: How the back feels, between exercises: "worse" is increased pain, a stop sign.
GOOD, SAME, WORSE = "good", "same", "worse"
FEELINGS = (GOOD, SAME, WORSE)
#: Pain from 0 to 10, as the answer words "0" .. "10".
NUMBERS = tuple(str(n) for n in range(11))
#: The spoken number words and the answer each gives.
SPOKEN_NUMBERS = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}
YES, NO = "yes", "no"
#: Words that steer play outside a check-in.
COMMANDS = ("pause", "resume", "next", "repeat", STOP)

#: The words of the answers as they are spoken (numbers as words).
SPOKEN_ANSWERS = (*FEELINGS, STOP, "pause", "resume", "next", "repeat", YES, NO,
                  *SPOKEN_NUMBERS)
#: Every answer there is.
ANSWERS = (*FEELINGS, STOP, "pause", "resume", "next", "repeat", YES, NO, *NUMBERS, NO_ANSWER)

#: Spoken words that mean "stop the routine now": stop, and the words of the stop signs.
STOP_WORDS = frozenset({STOP, "sharp", "shooting", "pain", "numb", "numbness",
                        "tingling", "weak", "weakness"})
#: The stop signs, as a person says them (each is answered ``stop``).
STOP_SIGNS = ("sharp pain", "shooting pain", "numb", "numbness", "tingling", "weak",
              "weakness")
#: Stems of the words the recognizer may take for a stop word ("stopped", "painful",
#: "shoots", "tingle" ...): a line of the guide's own that holds one is not listened to.
STOP_STEMS = ("stop", "sharp", "shoot", "pain", "numb", "tingl", "weak")

#: Other words, and fixed word pairs, that give an answer.
SYNONYMS = {"okay": "good", "fine": "good", "go on": "resume", "continue": "resume",
            "sharp pain": STOP, "shooting pain": STOP, "next one": "next",
            "the same": "same"}

#: Every way of saying each kind of answer, synonyms and stop signs included.
FEELING_PHRASES = ("good", "okay", "fine", "same", "the same", "worse", "numb", "weak",
                   "tingling", "sharp pain", "shooting pain", "numbness", "weakness")
COMMAND_PHRASES = ("stop", "pause", "resume", "next", "repeat", "go on", "continue",
                   "next one")
YES_NO_PHRASES = (YES, NO)

#: Carrier phrases, which carry no meaning of their own ("it feels", "a bit", "I do"):
#: (said before, the answers they go with, said after).
CARRIERS = (
    (("it feels", "i feel", "it's", "it is", "i'm", "feeling", "pretty", "a bit", "a little",
      "about", "my leg is", "my leg feels", "my back is", "my foot is", "i have a",
      "getting", "pretty much"), FEELING_PHRASES, ("now", "thanks", "as before")),
    (("please", "i want to"), COMMAND_PHRASES, ("please", "that", "again", "now")),
    ((), YES_NO_PHRASES, ("i do", "i don't", "it is", "thanks", "please", "not really")),
)

#: Carriers said around a pain number ("about 4", "it's 4", "4 now").
NUMBER_CARRIERS = (("about", "it's"), ("now",))

_STOP_STEM = re.compile(r"\b(" + "|".join(STOP_STEMS) + ")", re.IGNORECASE)


def says_stop_word(text: str) -> bool:
    """True if ``text`` holds a word the recognizer may take for a stop word."""
    return _STOP_STEM.search(text) is not None


def word_answer(word: str) -> str | None:
    """The answer one spoken word or fixed phrase gives, or None if it gives none."""
    if word in SYNONYMS:
        return SYNONYMS[word]
    if word in STOP_WORDS:
        return STOP
    if word in SPOKEN_NUMBERS:
        return SPOKEN_NUMBERS[word]
    if word in SPOKEN_ANSWERS:
        return word
    return None
