"""Dosing: how much of each technique a pacing gives. Pure arithmetic, no I/O.

A hold or flow lasts :func:`hold_seconds` (a multiple of :data:`HOLD_STEP`, within
the technique's dose range unless ``beyond_doses``, never scaled below
:data:`MIN_SCALED_HOLD`); a breath or cycle has :func:`rounds` rounds (a repeated
hold that many repetitions); exercises are :func:`rest_seconds` apart; a breath's
phases last :func:`breath_phases` (in and out at least 2 s, holds at most 4 s,
unless ``beyond_doses``). :func:`shared` narrows the doses of a technique done more
than once in a session, so that their total stays within its range.
:func:`dose_notes` says what asked for was outside a dose and what was used instead.
"""

from __future__ import annotations

import math

from collections import Counter
from dataclasses import replace

from voiceguide.routine.model import Exercise, Flow, Hold, Routine
from voiceguide.routine.pacing import BREATH_SAFE_HOLD, BREATH_SAFE_PHASE, HOLD_LIMITS, Pacing
from voiceguide.timing.timeline import samples

DEFAULT_REST = 5.0      # seconds between exercises at normal pace
FITTED_REST = 60.0      # seconds: the longest quiet rest --length makes between exercises
MIN_BREATH_PHASE = 1.0  # seconds; room for the inhale or exhale tone (--beyond-doses)
MIN_SCALED_HOLD = 10    # seconds: a hold scaled by pace or --length never goes below
HOLD_STEP = 5           # seconds: every hold and flow is a multiple of this


def _round_to_step(value: float, low: float, high: float) -> int:
    """``value`` as a multiple of :data:`HOLD_STEP` within ``[low, high]``; whole
    seconds when the range holds no such multiple."""
    step_low = math.ceil(low / HOLD_STEP) * HOLD_STEP
    step_high = math.floor(high / HOLD_STEP) * HOLD_STEP
    if step_low > step_high:
        return int(min(high, max(low, round(value))))
    return int(min(step_high, max(step_low, HOLD_STEP * round(value / HOLD_STEP))))


def hold_seconds(exercise: Exercise, pacing: Pacing) -> int:
    """Whole seconds of a hold or flow, after every override: a multiple of 5.

    The pacing ``hold`` (seconds for every timed hold) is kept within the
    technique's dose range unless ``beyond_doses``. Otherwise the exercise's own
    length, or the technique's default, is scaled by pace and ``--length`` and
    kept within the range. Either way it is rounded to a multiple of 5 seconds, so
    the number said is the length timed.
    """
    movement = exercise.technique.movement
    low, high = movement.range
    if pacing.hold is not None and isinstance(movement, Hold):
        value = pacing.hold
        if pacing.beyond_doses:
            low, high = HOLD_LIMITS
    else:
        base = exercise.hold if exercise.hold is not None else movement.seconds
        value = max(MIN_SCALED_HOLD, base * pacing.pace * pacing.dose)
    return _round_to_step(value, low, high)


def rest_seconds(pacing: Pacing) -> float:
    """Quiet between exercises: as given, or 5 s scaled by pace; then by --length,
    which makes it at most :data:`FITTED_REST` (a longer rest given stays as given)."""
    base = pacing.rest if pacing.rest is not None else DEFAULT_REST * pacing.pace
    if pacing.dose > 1:
        return min(base * pacing.dose, max(base, FITTED_REST))
    return base * pacing.dose


def _counted(movement) -> bool:
    """Whether the pacing's ``reps`` and ``--length`` change the movement's count:
    breaths and cycles, and holds that repeat."""
    return not isinstance(movement, Hold) or movement.reps > 1


def rounds(exercise: Exercise, pacing: Pacing) -> int:
    """Rounds of a breath or cycle, or repetitions of a hold, after every override.

    The pacing ``reps`` overrides breath and cycle rounds and the repetitions of
    holds that repeat (their default is more than one), within the technique's
    range unless ``beyond_doses``; otherwise the exercise's own count, or the
    technique's default, scaled by ``--length`` within the range.
    """
    movement = exercise.technique.movement
    default = movement.reps if isinstance(movement, Hold) else movement.rounds
    low, high = movement.reps_range if isinstance(movement, Hold) else movement.range
    if pacing.reps is not None and _counted(movement):
        if pacing.beyond_doses:
            return pacing.reps
        return min(high, max(low, pacing.reps))
    value = exercise.reps if exercise.reps is not None else default
    if _counted(movement):
        value = min(high, max(low, int(round(value * pacing.dose))))
    return value


def _narrowed(movement, times: int):
    """``movement`` with the top of its session dose divided among ``times``
    occurrences; None when each could not keep its lowest dose."""
    if isinstance(movement, Hold):
        low, high = movement.reps_range
        share = high // times
        return replace(movement, reps_range=(low, share)) if share >= low else None
    low, high = movement.range
    share = high / times if isinstance(movement, Flow) else high // times
    return replace(movement, range=(low, share)) if share >= low else None


def shared(exercises) -> tuple[Exercise, ...] | None:
    """The exercises with each technique done ``n`` times narrowed to a share of its
    dose range (``high // n``), so that the session's total stays within it; None
    when a technique's share would fall below its lowest dose."""
    times = Counter(e.technique.id for e in exercises)
    narrowed = {}
    for exercise in exercises:
        technique = exercise.technique
        if times[technique.id] > 1 and technique.id not in narrowed:
            movement = _narrowed(technique.movement, times[technique.id])
            if movement is None:
                return None
            narrowed[technique.id] = replace(technique, movement=movement)
    return tuple(replace(e, technique=narrowed.get(e.technique.id, e.technique))
                 for e in exercises)


def breath_phases(pacing: Pacing) -> list[int]:
    """Samples of inhale, hold, exhale, hold, after pace: an inhale or exhale at least
    2 s and a hold at most 4 s (unless ``beyond_doses``: an inhale or exhale at
    least 1 s)."""
    pattern = pacing.breath
    paced = [s * pacing.pace for s in
             (pattern.inhale, pattern.hold_in, pattern.exhale, pattern.hold_out)]
    floor = MIN_BREATH_PHASE if pacing.beyond_doses else BREATH_SAFE_PHASE
    for i in (0, 2):
        paced[i] = max(paced[i], floor)
    if not pacing.beyond_doses:
        paced[1], paced[3] = min(paced[1], BREATH_SAFE_HOLD), min(paced[3], BREATH_SAFE_HOLD)
    return [samples(s) for s in paced]


def dose_notes(routine: Routine, pacing: Pacing) -> list[str]:
    """What ``--hold``/``--reps`` (or a routine's pacing) asked outside a technique's
    dose range, and what was used instead (nothing with ``beyond_doses``)."""
    if pacing.beyond_doses:
        return []
    notes = []
    for exercise in routine.active_exercises:
        notes += _hold_note(exercise, pacing) + _reps_note(exercise, pacing)
    return notes


def _hold_note(exercise: Exercise, pacing: Pacing) -> list[str]:
    movement = exercise.technique.movement
    if pacing.hold is None or not isinstance(movement, Hold):
        return []
    low, high = movement.range
    if low <= pacing.hold <= high:
        return []
    return [f"{exercise.technique.id}: hold {pacing.hold:g} s clamped to "
            f"{hold_seconds(exercise, pacing)} s, the sources' dose is "
            f"{low:g}-{high:g} s (--beyond-doses to go outside it)"]


def _reps_note(exercise: Exercise, pacing: Pacing) -> list[str]:
    movement = exercise.technique.movement
    if pacing.reps is None or not _counted(movement) or isinstance(movement, Flow):
        return []
    low, high = movement.reps_range if isinstance(movement, Hold) else movement.range
    if low <= pacing.reps <= high:
        return []
    return [f"{exercise.technique.id}: reps {pacing.reps} clamped to "
            f"{rounds(exercise, pacing)}, the sources' dose is {low}-{high} "
            "(--beyond-doses to go outside it)"]
