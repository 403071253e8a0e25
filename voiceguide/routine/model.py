"""The model: techniques, routines and phrases as plain dataclasses. No I/O here.

The loader builds these from TOML files; the compiler turns them into a timeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

#: Positions a technique can be done in. ``wall``, ``standing`` and ``chair`` need
#: no floor.
POSITIONS = ("back", "side", "all-fours", "kneeling", "seated", "standing", "wall", "chair")
FLOORLESS_POSITIONS = ("standing", "wall", "chair")
#: What a technique may ask to have ready, in the order the opening names them.
EQUIPMENT = ("mat", "pillow", "towel", "wall", "chair")
DEFAULT_PRIORITY = 5   # an exercise's priority when its routine states none


@dataclass(frozen=True)
class Hold:
    """A timed hold, optionally on each side and repeated."""

    seconds: float = 20
    range: tuple[float, float] = (10, 60)
    sides: bool = False
    on_side: str | None = None
    reps: int = 1
    reps_range: tuple[int, int] = (1, 5)
    reminders: tuple[str, ...] = ()


@dataclass(frozen=True)
class Breath:
    """A cycle paced by the breath, with a cue on each inhale and exhale."""

    rounds: int = 10
    range: tuple[int, int] = (5, 20)
    inhale: str = "Breathe in."
    exhale: str = "Breathe out."


@dataclass(frozen=True)
class Flow:
    """A timed, continuous movement such as marching in place."""

    seconds: float = 60
    range: tuple[float, float] = (30, 600)
    reminders: tuple[str, ...] = ()


@dataclass(frozen=True)
class Step:
    """One fixed-length step of a cycle: something said, then quiet to fill it."""

    say: str
    seconds: float


@dataclass(frozen=True)
class Cycle:
    """Repeated rounds of fixed-length steps (press, hold, ease off, breathe)."""

    steps: tuple[Step, ...]
    rounds: int = 5
    range: tuple[int, int] = (1, 10)


Movement = Union[Hold, Breath, Flow, Cycle]


@dataclass(frozen=True)
class Kept:
    """An engagement kept going into the exercise it protects (a technique's ``[kept]``).

    When the next exercise is one of ``into``, the last hold ends with ``say``
    in place of the release, and ``release`` is said after that exercise's own.
    """

    into: tuple[str, ...]
    say: tuple[str, ...]
    release: tuple[str, ...]


@dataclass(frozen=True)
class Technique:
    """One exercise: how to get into position, the movement, how to come out."""

    id: str
    title: str
    setup: tuple[str, ...]
    movement: Movement
    position: str = "back"
    release: tuple[str, ...] = ()
    safety: tuple[str, ...] = ()
    settle: float = 3
    source: str = ""
    path: Path | None = None
    form: str | None = None            # the key form cue, spoken in every hold
    needs: tuple[str, ...] = ()        # things to have ready (see EQUIPMENT)
    kept: Kept | None = None           # kept going into the exercise it protects

    @property
    def protects(self) -> tuple[str, ...]:
        """The ids of the techniques this one makes safe (its ``kept.into``): it comes
        before them in a routine, and ``--length`` keeps it as long as them."""
        return self.kept.into if self.kept is not None else ()


@dataclass(frozen=True)
class Exercise:
    """A technique as a routine uses it, with its per-exercise overrides."""

    technique: Technique
    hold: float | None = None
    reps: int | None = None
    sides: bool | None = None
    skip: bool = False
    priority: int = DEFAULT_PRIORITY   # for --length: the highest number is left out first


@dataclass(frozen=True)
class Routine:
    """An ordered list of exercises with optional routine-level pacing."""

    name: str
    title: str
    exercises: tuple[Exercise, ...]
    description: str = ""
    pacing: dict = field(default_factory=dict)
    path: Path | None = None

    @property
    def active_exercises(self) -> tuple[Exercise, ...]:
        """The exercises that are not skipped."""
        return tuple(e for e in self.exercises if not e.skip)


@dataclass(frozen=True)
class Move:
    """A spoken move from one position to a neighbouring one, and time to do it."""

    start: str
    end: str
    say: tuple[str, ...]
    seconds: float


@dataclass(frozen=True)
class Position:
    """A body position: how it is named, entered, rested in and left at the end."""

    id: str
    name: str                      # "on your back", spoken in the opening and previews
    settle: tuple[str, ...]        # said when arriving in it
    rest: tuple[str, ...]          # how to rest in it after a stop
    finish: tuple[str, ...]        # the end of the routine, from this position
    needs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Positions:
    """Every position and the moves between neighbours (``library/positions.toml``)."""

    positions: dict
    moves: tuple[Move, ...]

    def path(self, start: str, end: str) -> tuple[Move, ...]:
        """The fewest moves from ``start`` to ``end`` (none when they are the same)."""
        if start == end:
            return ()
        seen, frontier = {start: ()}, [start]
        while frontier:
            following = []
            for here in frontier:
                for move in self.moves:
                    if move.start == here and move.end not in seen:
                        seen[move.end] = seen[here] + (move,)
                        following.append(move.end)
            if end in seen:
                return seen[end]
            frontier = following
        raise ValueError(f"no way from position {start!r} to {end!r}")


@dataclass(frozen=True)
class Phrases:
    """The words said around the exercises (``library/phrases.toml``).

    Lines heard every session have variants (``variants``: every variant of each
    such key); the fields hold the one chosen for the session's day.
    """

    opening: tuple[str, ...]
    closing: tuple[str, ...]
    stop_any_time: str                  # in play with check-ins, after the opening
    routine_title: str
    first_exercise: str
    next_exercise: str
    checkin_question: str
    checkin_intro: str
    stop_message: tuple[str, ...]
    stop_ease: str
    stop_still: str
    stop_rest: str
    stop_help: tuple[str, ...]
    stop_get_up: str
    eyes_open: str
    hold_start: str
    hold_start_short: str
    flow_start: str
    thirty_left: str
    ten_left: str
    countdown: tuple[str, ...]
    left_side: str
    right_side: str
    round_of: str
    breath_count: str
    last_round: str
    breath_hold: str
    release: tuple[str, ...]
    pain_question: str
    not_today: tuple[str, ...]
    are_you_ok: str
    waiting: str
    pain_rose: tuple[str, ...]          # in play, the closing when the pain went up
    intro: tuple[str, ...]
    daily_limit: tuple[str, ...]
    daily_limit_question: str
    notice: tuple[str, ...]
    recording_rest: tuple[str, ...]
    start_position: str
    have_ready: str
    preview: str
    form_breath: str
    acknowledge: dict
    variants: dict = field(default_factory=dict)
