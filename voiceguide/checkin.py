"""Check-ins: answers from several sources (keys, voice, timeout) into one inbox."""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass

#: Keys at a check-in gate.
KEY_ANSWERS = {"g": "good", "\n": "good", "\r": "good", "w": "worse", "s": "stop",
               "G": "good", "W": "worse", "S": "stop"}
#: Answers that end the routine at once.
STOP = "stop"
NO_ANSWER = "none"


@dataclass(frozen=True)
class Answer:
    """What was answered, and how: ``key``, ``voice`` or ``timeout``."""

    word: str
    source: str
    at: float = 0.0


class Inbox:
    """Where every answer source puts what it heard; the gate takes the first."""

    def __init__(self):
        self._queue: queue.Queue[Answer] = queue.Queue()

    def put(self, word: str, source: str) -> None:
        """Offer an answer (thread-safe)."""
        self._queue.put(Answer(word, source, time.monotonic()))

    def clear(self) -> None:
        """Forget answers given before the question was asked."""
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return

    def wait(self, timeout: float) -> Answer:
        """The first answer within ``timeout`` seconds, or a ``timeout`` non-answer."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return Answer(NO_ANSWER, "timeout", time.monotonic())
