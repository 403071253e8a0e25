"""The routine's frame: its opening, its check-in spots and its closing.

What is said around the exercises depends on who listens (:class:`Audience`).
For ``play``, the opening explains the check-ins and each spot is a check-in
question with its gate. For ``export`` (a file, or ``play --no-checkins``),
nobody can answer: the opening starts with the notice that the recording is not
medical advice and cannot hear, and each spot is a short spoken rest (pause the
recording if anything hurts), its wording varied within the routine, then quiet.
Pure, like the compiler: phrases and positions are arguments.
"""

from __future__ import annotations

from voiceguide.routine.model import EQUIPMENT, Phrases, Positions, Routine
from voiceguide.routine.pacing import CHECKIN_PAUSE, Pacing
from voiceguide.timing.builder import LINE_GAP, Builder
from voiceguide.timing.timeline import Audience, Gate

#: Where every routine starts: where a person at the computer is.
START_POSITION = "standing"
#: Quiet after each step of getting up at the end (seconds, times pace).
GET_UP_PAUSE = 3.0

#: How the opening names each thing to have ready.
THINGS = {"mat": "a mat", "pillow": "a pillow", "towel": "a folded towel",
          "wall": "a clear wall", "chair": "a sturdy chair"}


def things_to_have(routine: Routine, positions: Positions) -> list[str]:
    """What the routine's techniques and positions need, in :data:`EQUIPMENT` order."""
    wanted = set()
    for exercise in routine.active_exercises:
        technique = exercise.technique
        wanted.update(technique.needs)
        wanted.update(positions.positions[technique.position].needs)
    return [thing for thing in EQUIPMENT if thing in wanted]


def spoken_list(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b, and c``."""
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + ", and " + items[-1]


def opening(b: Builder, routine: Routine, pacing: Pacing, phrases: Phrases,
            positions: Positions, audience: Audience) -> str:
    """The welcome, up to and with the baseline spot; returns the position to start in.

    An export starts with the spoken notice (not medical advice, cannot hear you)
    and leaves out the line that explains how to answer.
    """
    exercises = routine.active_exercises
    b.section("Welcome", None)
    if audience == Audience.EXPORT:
        b.lines(phrases.notice, essential=True)
    b.cue("start")
    b.say(phrases.routine_title.format(title=routine.title), essential=True,
          gap=LINE_GAP * pacing.pace)
    b.lines(phrases.opening, essential=True)
    if audience == Audience.PLAY:   # keys and voice are heard: stop works at any moment
        b.lines([phrases.checkin_intro], essential=True)
        b.say(phrases.stop_any_time, essential=True, gap=LINE_GAP * pacing.pace)
    here = exercises[0].technique.position if exercises else "back"
    b.say(phrases.start_position.format(position=positions.positions[here].name),
          gap=LINE_GAP * pacing.pace)
    things = things_to_have(routine, positions)
    if things:
        b.say(phrases.have_ready.format(things=spoken_list([THINGS[t] for t in things])),
              gap=LINE_GAP * pacing.pace)
    spot(b, phrases, Gate.BASELINE, audience)
    return here


def spot(b: Builder, phrases: Phrases, gate: Gate, audience: Audience) -> None:
    """A check-in spot (``baseline``, ``between`` or ``final``), then a short quiet.

    For play, the gate's question (pain from 0 to 10 at ``baseline`` and
    ``final``, the check-in question ``between``). For an export, the next
    wording of ``phrases.recording_rest`` (in turn, so consecutive spots differ),
    spoken, then :data:`CHECKIN_PAUSE` seconds of quiet: never a question.
    """
    if audience == Audience.PLAY:
        b.checkin(phrases.pain_question if gate.asks_pain else phrases.checkin_question, gate)
    else:
        wordings = phrases.recording_rest
        b.say(wordings[b.rests % len(wordings)], essential=True)
        b.rests += 1
        b.quiet(CHECKIN_PAUSE)
    b.quiet(LINE_GAP)


def closing(b: Builder, here: str, phrases: Phrases, positions: Positions,
            audience: Audience) -> None:
    """The final spot, the closing lines and the finish from ``here``."""
    b.section("Closing", None)
    spot(b, phrases, Gate.FINAL, audience)
    b.lines(phrases.closing, essential=True)
    for step in positions.positions[here].finish:   # a pause to do each step of getting up
        b.say(step, essential=True, gap=GET_UP_PAUSE * b.pacing.pace)
    b.cue("end")
