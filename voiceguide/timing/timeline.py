"""Timeline: the compiled routine as ordered events with exact sample positions.

Events follow each other with no gap and no overlap: each starts where the one
before it ends, so the routine's length is the sum of the events' lengths. All
positions are whole samples at :data:`SAMPLE_RATE`; seconds are derived from them.
"""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass, field

from voiceguide import StrEnum

#: The one sample rate of the whole audio path (espeak-ng speaks at 22050 Hz).
SAMPLE_RATE = 22050

#: Every cue a timeline can hold, and its exact length in seconds (the sounds themselves,
#: in audio_cues/, are made with exactly these lengths by scripts/make_cues.py).
CUE_SECONDS: dict[str, float] = {
    "start": 2.0,     # soft chime as the routine begins
    "end": 2.5,       # end chime as the routine closes
    "switch": 0.6,    # side switch
    "tick": 0.15,     # countdown tick
    "inhale": 0.9,    # rising tone at each inhale
    "exhale": 0.9,    # falling tone at each exhale
    "checkin": 0.7,   # before a check-in question
}



class EventKind(StrEnum):
    """What an event is: something said, a cue sound, quiet, or a check-in."""

    SPEECH = "speech"
    CUE = "cue"
    SILENCE = "silence"
    CHECKIN = "checkin"


class Audience(StrEnum):
    """Who a routine is compiled for: someone the guide can hear, or a recording.

    ``play`` asks its check-in questions and waits at their gates. ``export`` is
    for a file (and ``play --no-checkins``), which cannot hear: it opens by saying
    so, asks nothing, and rests briefly where play would ask.
    """

    PLAY = "play"
    EXPORT = "export"


class Gate(StrEnum):
    """Which question a check-in event asks (see :class:`Event`)."""

    BASELINE = "baseline"
    BETWEEN = "between"
    FINAL = "final"
    CONTINUE = "continue"
    DAILY_LIMIT = "daily-limit"
    CONFIRM_STOP = "confirm-stop"

    @property
    def asks_pain(self) -> bool:
        """True for the pain questions (0 to 10) before and after the routine."""
        return self in (Gate.BASELINE, Gate.FINAL)

    @property
    def in_routine(self) -> bool:
        """True for the routine's own questions (recorded under their section)."""
        return self in (Gate.BASELINE, Gate.BETWEEN, Gate.FINAL)


def seconds(samples: int) -> float:
    """Samples at :data:`SAMPLE_RATE` as seconds."""
    return samples / SAMPLE_RATE


def samples(secs: float) -> int:
    """Seconds as a whole number of samples at :data:`SAMPLE_RATE`."""
    return int(round(secs * SAMPLE_RATE))


def clock(secs: float) -> str:
    """``mm:ss`` (or ``h:mm:ss``)."""
    hours, rest = divmod(int(secs), 3600)
    minutes, sec = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{sec:02d}" if hours else f"{minutes:02d}:{sec:02d}"


@dataclass(frozen=True)
class Event:
    """One thing that happens: something said, a cue sound, quiet, or a check-in.

    A ``checkin`` event is its question (``text``) followed by ``pause`` samples of
    quiet: that is what an export holds, and where a player waits for an answer.
    Its ``gate`` says which question it is: ``baseline`` and ``final`` (pain from 0
    to 10), ``between`` (good, same, worse or stop), ``continue`` (the end of an
    acknowledgement: back to the routine, no pause), ``daily-limit`` or
    ``confirm-stop`` (yes or no).

    ``position`` is the id of the body position the person is in when the event
    starts (during a spoken move, the one they come from), and ``move`` the
    ``(from, to)`` of the move an event belongs to; both None in a message.
    """

    kind: EventKind
    start: int
    length: int
    section: int
    text: str | None = None
    cue: str | None = None
    pause: int = 0
    gate: Gate | None = None
    position: str | None = None
    move: tuple[str, str] | None = None

    def __post_init__(self):
        # typed once, here: a kind or gate given as its string becomes the enum
        object.__setattr__(self, "kind", EventKind(self.kind))
        if self.gate is not None:
            object.__setattr__(self, "gate", Gate(self.gate))

    @property
    def end(self) -> int:
        return self.start + self.length

    def to_json(self) -> dict:
        out = {"start": round(seconds(self.start), 6), "duration": round(seconds(self.length), 6),
               "kind": self.kind, "section": self.section,
               "start_sample": self.start, "length_samples": self.length}
        if self.text is not None:
            out["text"] = self.text
        if self.cue is not None:
            out["cue"] = self.cue
        if self.kind == EventKind.CHECKIN:
            out["pause"] = round(seconds(self.pause), 6)
            out["gate"] = self.gate
        if self.position is not None:
            out["position"] = self.position
        if self.move is not None:
            out["move"] = list(self.move)
        return out


@dataclass(frozen=True)
class Section:
    """A chapter of the routine: the opening, one exercise, or the closing."""

    title: str
    technique: str | None
    start: int
    length: int

    @property
    def end(self) -> int:
        return self.start + self.length

    def to_json(self) -> dict:
        return {"title": self.title, "technique": self.technique,
                "start": round(seconds(self.start), 6),
                "duration": round(seconds(self.length), 6)}


@dataclass(frozen=True)
class HoldSpan:
    """A timed hold: from its start cue to its release cue, exactly."""

    technique: str
    side: str | None
    start: int
    length: int

    def to_json(self) -> dict:
        return {"technique": self.technique, "side": self.side,
                "start": round(seconds(self.start), 6),
                "duration": round(seconds(self.length), 6)}


@dataclass
class Timeline:
    """The whole routine, ready to render."""

    routine: str
    title: str
    events: list[Event]
    sections: list[Section]
    holds: list[HoldSpan]
    pacing: dict = field(default_factory=dict)
    sample_rate: int = SAMPLE_RATE

    @property
    def total_samples(self) -> int:
        return self.events[-1].end if self.events else 0

    @property
    def total_seconds(self) -> float:
        return seconds(self.total_samples)

    def texts(self) -> list[str]:
        """Every distinct text that is spoken, in order of first use."""
        seen: dict[str, None] = {}
        for event in self.events:
            if event.text is not None:
                seen.setdefault(event.text, None)
        return list(seen)

    @functools.cached_property
    def _event_starts(self) -> list[int]:
        # a timeline's events never change once compiled
        return [e.start for e in self.events]

    def event_index_at(self, sample: int) -> int:
        """Index of the event playing at ``sample``."""
        return max(0, bisect.bisect_right(self._event_starts, sample) - 1)

    def line_start(self, sample: int) -> int:
        """Where to go on from after a pause at ``sample``: the start of the line
        being said then (a person with eyes closed hears the whole sentence again,
        not its second half), else ``sample`` itself (in a cue or quiet, so a hold
        keeps its exact time)."""
        event = self.events[self.event_index_at(sample)] if self.events else None
        return event.start if event is not None and event.kind == EventKind.SPEECH else sample

    def event_at(self, sample: int) -> Event | None:
        """The event playing at ``sample`` (the last one at or past the end)."""
        if not self.events:
            return None
        starts = [e.start for e in self.events]
        return self.events[max(0, bisect.bisect_right(starts, sample) - 1)]

    def section_at(self, sample: int) -> int:
        """Index of the section playing at ``sample``."""
        starts = [s.start for s in self.sections]
        return max(0, bisect.bisect_right(starts, sample) - 1)

    def to_json(self) -> dict:
        """The ``show --json`` form."""
        return {
            "routine": self.routine,
            "title": self.title,
            "sample_rate": self.sample_rate,
            "total_seconds": round(self.total_seconds, 6),
            "total_samples": self.total_samples,
            "pacing": self.pacing,
            "sections": [s.to_json() for s in self.sections],
            "holds": [h.to_json() for h in self.holds],
            "events": [e.to_json() for e in self.events],
        }
