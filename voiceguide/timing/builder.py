"""The timeline builder: events appended end to end, with sections and holds.

:class:`Builder` is what the compiler and the routine's opening and closing
(:mod:`.framing`) write with: something said, a cue, quiet, a check-in, a window
of exactly N samples. Pure: how long a text takes to say is passed in.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Callable

from voiceguide.routine.model import Routine
from voiceguide.routine.pacing import CHECKIN_PAUSE, Pacing
from voiceguide.timing.timeline import (CUE_SECONDS, Event, EventKind, Gate, HoldSpan, Section,
                                        Timeline, samples)

#: How long a text takes to say, in seconds.
SpeechLength = Callable[[str], float]

LINE_GAP = 0.7          # seconds of quiet after an instruction, to follow it


def estimated_speech(rate: int) -> SpeechLength:
    """A speech-length estimate from word count and speech rate (words per minute)."""

    @functools.lru_cache(maxsize=4096)
    def length(text: str) -> float:
        words = len(re.findall(r"[A-Za-z0-9']+", text))
        pauses = len(re.findall(r"[,.;:?!]", text))
        return 0.1 + words * 51.0 / rate + 0.12 * pauses

    return length


@dataclass
class Item:
    """Something to place inside a fixed-length window, at a wished-for offset."""

    offset: int
    text: str | None = None
    cue: str | None = None


class Builder:
    """Appends events one after another and keeps sections and holds."""

    def __init__(self, speech_length: SpeechLength, pacing: Pacing):
        self.speech_length = speech_length
        self.pacing = pacing
        self.full = pacing.voice_guidance == "full"
        self.events: list[Event] = []
        self.sections: list[tuple[str, str | None, int]] = []
        self.holds: list[HoldSpan] = []
        self.cursor = 0
        self.rests = 0    # spoken rests said so far (their wording goes in turn)
        self._lengths: dict[str, int] = {}
        self.position: str | None = None   # where the body is (see Event.position)
        self.moving: tuple[str, str] | None = None

    # -- primitives
    def _add(self, kind: EventKind, length: int, **fields) -> None:
        if length <= 0:
            return
        section = len(self.sections) - 1
        last = self.events[-1] if self.events else None
        where = {"position": self.position, "move": self.moving}
        if kind == EventKind.SILENCE and last and last.kind == EventKind.SILENCE and \
                last.section == section and (last.position, last.move) == tuple(where.values()):
            self.events[-1] = Event(EventKind.SILENCE, last.start, last.length + length,
                                    section, **where)
        else:
            self.events.append(Event(kind, self.cursor, length, section, **fields, **where))
        self.cursor += length

    def speech_samples(self, text: str) -> int:
        if text not in self._lengths:
            self._lengths[text] = max(1, samples(self.speech_length(text)))
        return self._lengths[text]

    def say(self, text: str, essential: bool = False, gap: float = 0.0) -> None:
        """Speak ``text``; in cues-only guidance only essential words are spoken."""
        if self.full or essential:
            self._add(EventKind.SPEECH, self.speech_samples(text), text=text)
            self.quiet(gap)

    def lines(self, texts, essential: bool = False) -> None:
        for text in texts:
            self.say(text, essential, gap=LINE_GAP * self.pacing.pace)

    def cue(self, name: str) -> None:
        self._add(EventKind.CUE, samples(CUE_SECONDS[name]), cue=name)

    def quiet(self, secs: float) -> None:
        self._add(EventKind.SILENCE, samples(secs))

    def checkin(self, question: str, gate: Gate) -> None:
        self.cue("checkin")
        pause = samples(CHECKIN_PAUSE)
        self._add(EventKind.CHECKIN, self.speech_samples(question) + pause, text=question,
                  pause=pause,
                  gate=gate)

    def section(self, title: str, technique: str | None) -> None:
        self.sections.append((title, technique, self.cursor))

    def window(self, total: int, items: list[Item]) -> int:
        """Fill exactly ``total`` samples with the items that fit; return the start.

        Items are placed at their offsets in order; one that would start before the
        previous one ends, or run past the window, is left out.
        """
        start, used = self.cursor, 0
        for item in sorted(items, key=lambda i: i.offset):
            if item.text is not None and not self.full:
                continue
            length = (self.speech_samples(item.text) if item.text is not None
                      else samples(CUE_SECONDS[item.cue]))
            if item.offset < used or item.offset + length > total:
                continue
            self._add(EventKind.SILENCE, item.offset - used)
            if item.text is not None:
                self._add(EventKind.SPEECH, length, text=item.text)
            else:
                self._add(EventKind.CUE, length, cue=item.cue)
            used = item.offset + length
        self._add(EventKind.SILENCE, total - used)
        assert self.cursor == start + total
        return start

    def build(self, routine: Routine, pacing: Pacing) -> Timeline:
        bounds = [s[2] for s in self.sections[1:]] + [self.cursor]
        sections = [Section(title, technique, start, end - start)
                    for (title, technique, start), end in zip(self.sections, bounds)]
        return Timeline(routine.name, routine.title, self.events, sections, self.holds,
                        pacing.as_dict())
