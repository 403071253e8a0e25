"""The stop path: what the guide says when a routine stops, for the exact moment.

Whatever stopped the routine (a key, a word, "worse", a stop sign), the person is
eased out of what they are doing (or, in the middle of a move, told to stay where
they are), rested in the position they are *in* (the timeline knows it: see
:attr:`~voiceguide.timing.timeline.Event.position`), told the stop signs and how to
get help, warned not to get up alone with weak or numb legs or sharp pain, given
a quiet rest, and then led up from that position one step at a time, with a pause
after each step.

Pure: from the routine's timeline, the phrases and the positions to the lines and
the pauses between them. ``show --stop-at`` prints the same lines the player speaks.
"""

from __future__ import annotations

from dataclasses import dataclass

from voiceguide.routine.model import Phrases, Positions
from voiceguide.timing.timeline import SAMPLE_RATE, Timeline

#: Quiet to rest in after the first lines, before the stop signs (times pace).
REST_SECONDS = 8.0
#: Quiet after each step of getting up: one is done before the next.
STEP_SECONDS = 4.0


@dataclass(frozen=True)
class StopPath:
    """What the guide says when stopped at routine sample ``at``.

    ``lines`` (stop, ease out, rest there, the stop signs and how to get help) are
    said first, then ``REST_SECONDS`` of quiet, then ``steps`` (up from there), each
    followed by ``STEP_SECONDS`` of quiet (both times scaled by the pace)."""

    at: int
    position: str
    moving: tuple[str, str] | None
    lines: tuple[str, ...]
    steps: tuple[str, ...]

    @property
    def said(self) -> tuple[str, ...]:
        """Every line, in the order it is said."""
        return self.lines + self.steps

    def to_json(self) -> dict:
        """The ``show --stop-at --json`` form."""
        return {"at": round(self.at / SAMPLE_RATE, 3), "position": self.position,
                "move": list(self.moving) if self.moving else None,
                "lines": list(self.said)}


def where(timeline: Timeline, sample: int, default: str = "standing"
          ) -> tuple[str, tuple[str, str] | None]:
    """The position the body is in at ``sample`` of the routine, and the move it is
    making then (None between moves)."""
    event = timeline.event_at(sample)
    if event is None or event.position is None:
        return default, None
    return event.position, event.move


def stop_path(timeline: Timeline, sample: int, phrases: Phrases,
              positions: Positions) -> StopPath:
    """The stop path for routine ``timeline`` stopped at ``sample``."""
    position, moving = where(timeline, sample)
    place = positions.positions[position]
    ease = phrases.stop_still if moving else phrases.stop_ease
    lines = (phrases.stop_message[:1] + (ease,) + place.rest + phrases.stop_message[1:]
             + phrases.stop_help + (phrases.stop_rest,))
    on_the_floor = "mat" in place.needs
    steps = ((phrases.stop_get_up,) if on_the_floor else ()) + place.finish
    return StopPath(sample, position, moving, lines, steps)
