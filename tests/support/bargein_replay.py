"""Play recorded real-time sessions through barge-in again, offline.

    python -m tests.support.bargein_replay CAPTURE.npz...

The captures come from :mod:`tests.support.bargein_play` run with
``VOICEGUIDE_TEST_CAPTURE`` set, for example::

    VOICEGUIDE_TEST_CAPTURE=/tmp/captures bash scripts/test.sh tests/test_bargein.py \\
        -k real_sound_server_at_20

Each holds every microphone block barge-in was fed through a real sound server,
with its capture time and the reference it was given. A fresh
:class:`~voiceguide.hearing.bargein.BargeIn`, with the recognizer in this process, is
fed the same blocks, so a change to barge-in's rules or thresholds can be
measured on the same audio, in seconds, instead of on new real-time runs whose
timing differs every time. What it prints per capture: the stops said that
were heard (and how many of them only nearly: "Did you say stop?"), the time
from the end of the words to the decision (barge-in's part of the latency,
without the sound system's), the stops heard when nobody spoke, and the
utterances taken for the guide's own echo. It replays what was captured: after
a decision that differs from the recorded run's, the player would have done
something else, which the recording cannot show.
"""

from __future__ import annotations

import json
import sys

import numpy as np

from voiceguide.hearing import bargein
from voiceguide.hearing import echo

#: Seconds around the end of a trial's words in which a stop belongs to it.
BEFORE, AFTER = 3.0, 2.0


class _Tap:
    """The stop-word marks of a capture, as :class:`~voiceguide.hearing.echo.ReferenceTap`
    answers them."""

    def __init__(self, at: np.ndarray, stop_word: np.ndarray):
        self.at, self.stop_word = at, stop_word

    def says_stop_word(self, start: float, end: float) -> bool:
        return bool(np.any(self.stop_word[(self.at >= start) & (self.at <= end)]))


class _Reference:
    """The captured reference, block by block, as :class:`~voiceguide.hearing.echo.ReferenceStream`
    gave it."""

    anchors = 0

    def __init__(self, capture):
        self.blocks = capture["reference"]
        self.tap = _Tap(capture["at"], capture["stop_word"])
        self.index = 0

    def next(self, captured_at: float, count: int) -> np.ndarray:
        return self.blocks[self.index]

    def move(self, seconds: float) -> None:
        """The recorded reference stays where it was."""

    def found_in_reach(self, captured_at: float) -> None:
        """The recorded reference stays where it was."""


def replay(path: str) -> dict:
    """Feed one capture to a fresh BargeIn; what it decided, against the trials."""
    capture = np.load(path)
    listening = bargein.BargeIn(int(capture["rate"]), echo.ReferenceTap())
    reference = listening.reference = _Reference(capture)
    rate, answers = listening.rate, []
    for index, (at, speaking, block) in enumerate(zip(capture["at"], capture["speaking"],
                                                      capture["mic"])):
        reference.index = index
        answer = listening.feed(block, float(at), bool(speaking))
        if answer is not None:    # decided at the end of this block
            answers.append((float(at) + len(block) / rate, answer))
    heard, unsure, latencies, missed, claimed = 0, 0, [], [], set()
    for trial in json.loads(str(capture["trials"])):
        end = trial["word_end"]
        stops = [(t, a) for t, a in answers
                 if a.word == "stop" and end is not None and end - BEFORE <= t <= end + AFTER]
        if not stops:
            missed.append((trial["target"], trial["said"]))
            continue
        heard += 1
        unsure += not stops[0][1].sure
        latencies.append(stops[0][0] - end)
        claimed.update(id(a) for _, a in stops)
    unprompted = [(round(t - capture["at"][0], 1), a.heard) for t, a in answers
                  if a.word == "stop" and id(a) not in claimed]
    return {"heard": heard, "trials": heard + len(missed), "unsure": unsure,
            "latencies": latencies, "missed": missed, "unprompted": unprompted,
            "echo": listening.dropped_as_echo}


def main(paths: list[str]) -> None:
    total = {"heard": 0, "trials": 0, "unsure": 0, "latencies": [], "unprompted": [], "echo": 0}
    for path in paths:
        result = replay(path)
        print(f"{path}: heard {result['heard']}/{result['trials']} ({result['unsure']} unsure), "
              f"missed {result['missed']}, stopped itself {result['unprompted']}, "
              f"{result['echo']} taken for echo")
        for key in total:
            total[key] += result[key]
    latencies = total["latencies"] or [float("nan")]
    print(f"all: heard {total['heard']}/{total['trials']} ({total['unsure']} unsure); end of "
          f"words to decision median {np.median(latencies):.2f} s, worst {max(latencies):.2f} s; "
          f"stopped itself {len(total['unprompted'])} times; {total['echo']} taken for echo")


if __name__ == "__main__":
    main(sys.argv[1:])
