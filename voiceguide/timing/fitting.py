"""Fitting a routine to a length (``--length``), and saying how long a routine is.

:func:`fit_length` finds the routine and pacing that come within 5 % of a number of
minutes without leaving any technique's dose: it scales holds, rounds and rests
together (a pacing's ``dose``), leaves out exercises by :func:`drop_order`, or does
the middle ones again (:func:`repeated`). It compiles candidates with the compiler
and the speech lengths it is given; it reads no file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

from voiceguide.routine.model import Flow, Hold, Phrases, Positions, Routine
from voiceguide.routine.pacing import Pacing
from voiceguide.timing.compiler import SpeechLength, compile_routine
from voiceguide.timing.dosing import hold_seconds, rest_seconds, rounds
from voiceguide.timing.timeline import Audience, Timeline

LENGTH_DOSES = (0.2, 6.0)  # the search range of --length's scale factor


@dataclass
class Fitted:
    """A routine fitted to a length: the exercises kept, the pacing, what changed."""

    routine: Routine
    pacing: Pacing
    notes: list[str]


class LengthError(ValueError):
    """The target is below the routine's shortest safe version."""

    def __init__(self, shortest_seconds: float):
        super().__init__(f"{shortest_seconds / 60:.1f} minutes")
        self.shortest_seconds = shortest_seconds


def drop_order(routine: Routine) -> list[int]:
    """Indices of active exercises in the order ``--length`` leaves them out:
    highest ``priority`` first, later ones first on a tie; never the first (the
    warm-up) nor the last (the relaxing end)."""
    exercises = routine.active_exercises
    middle = range(1, len(exercises) - 1)
    return sorted(middle, key=lambda i: (-exercises[i].priority, -i))


def with_exercises(routine: Routine, exercises) -> Routine:
    """The routine with these (active) exercises."""
    return replace(routine, exercises=tuple(exercises))


def repeated(routine: Routine, circuits: int) -> Routine:
    """The routine with its middle exercises done ``circuits`` times (the last
    exercise alone when there is no middle); warm-up first, the end last."""
    exercises = routine.active_exercises
    if len(exercises) < 2 or circuits <= 1:
        return with_exercises(routine, exercises)
    first, middle, last = exercises[0], exercises[1:-1], exercises[-1]
    if not middle:
        return with_exercises(routine, (first,) + (last,) * circuits)
    return with_exercises(routine, (first,) + middle * circuits + (last,))


def fit_length(routine: Routine, pacing: Pacing, speech_length: SpeechLength,
               phrases: Phrases, minutes: float, positions: Positions,
               audience: Audience = Audience.PLAY) -> Fitted:
    """The routine and pacing that come within 5 % of ``minutes``, within doses.

    Holds, rounds and rests are scaled together, each within its technique's
    range (and holds at 10 s or more). When that is not short enough, whole
    exercises are left out by :func:`drop_order` (the warm-up and the last one
    stay); when not long enough, the middle exercises are done again, as more
    rounds of the routine. Raises :class:`LengthError` below the shortest version.
    """
    target = minutes * 60

    def total(candidate: Routine, dose: float) -> float:
        return compile_routine(candidate, replace(pacing, dose=dose), speech_length, phrases,
                               positions, audience).total_seconds

    candidate, notes = _shortened(routine, total, target)
    circuits, candidate, dose = _circuits_and_dose(candidate, total, target)
    if circuits > 1:
        notes.append(f"the exercises after the warm-up are done {circuits} times")
    fitted = replace(pacing, dose=dose)
    return Fitted(candidate, fitted, notes + _changes(candidate, pacing, fitted))


def _shortened(routine: Routine, total: Callable[[Routine, float], float],
               target: float) -> tuple[Routine, list[str]]:
    """The routine with exercises left out (by :func:`drop_order`) until its
    shortest dose comes within 5 % of ``target``, and a note for each one left out;
    :class:`LengthError` when even the shortest is too long."""
    low_dose = LENGTH_DOSES[0]
    kept, notes = list(routine.active_exercises), []
    candidate = with_exercises(routine, kept)
    for index in drop_order(routine):
        if total(candidate, low_dose) <= target * 1.05:
            break
        notes.append(f"left out {routine.active_exercises[index].technique.id} (priority "
                     f"{routine.active_exercises[index].priority})")
        kept.remove(routine.active_exercises[index])
        candidate = with_exercises(routine, kept)
    shortest = total(candidate, low_dose)
    if shortest > target * 1.05:
        raise LengthError(shortest)
    return candidate, notes


def _circuits_and_dose(candidate: Routine, total: Callable[[Routine, float], float],
                       target: float) -> tuple[int, Routine, float]:
    """How many times the middle is done, that version, and its dose: the fewest
    rounds that reach ``target``, or one fewer when that comes closer."""
    high_dose = LENGTH_DOSES[1]
    circuits = 1
    while total(repeated(candidate, circuits), high_dose) < target and circuits < 60:
        circuits += 1
    options = []
    for count in sorted({max(1, circuits - 1), circuits}):
        version = repeated(candidate, count)
        dose = _best_dose(lambda d, version=version: total(version, d), target)
        options.append((abs(total(version, dose) - target), count, version, dose))
    _, circuits, version, dose = min(options, key=lambda option: option[:2])
    return circuits, version, dose


def _best_dose(total: Callable[[float], float], target: float) -> float:
    """The dose within :data:`LENGTH_DOSES` whose length comes closest to ``target``
    (lengths grow with the dose)."""
    low, high = LENGTH_DOSES
    for _ in range(12):
        middle = (low + high) / 2
        if total(middle) < target:
            low = middle
        else:
            high = middle
    return min((low, high), key=lambda d: abs(total(d) - target))


def _changes(routine: Routine, before: Pacing, after: Pacing) -> list[str]:
    """What the fitted pacing changed, per technique (once each) and in the rest."""
    notes = []
    seen = set()
    for exercise in routine.active_exercises:
        movement = exercise.technique.movement
        name = exercise.technique.id
        if name in seen:
            continue
        seen.add(name)
        if isinstance(movement, (Hold, Flow)):
            a, b = hold_seconds(exercise, before), hold_seconds(exercise, after)
            if a != b:
                notes.append(f"{name}: {a} s -> {b} s")
        if not isinstance(movement, Flow):
            a, b = rounds(exercise, before), rounds(exercise, after)
            if a != b:
                what = "reps" if isinstance(movement, Hold) else "rounds"
                notes.append(f"{name}: {a} -> {b} {what}")
    a, b = rest_seconds(before), rest_seconds(after)
    if round(a) != round(b):
        notes.append(f"rest between exercises: {a:.0f} s -> {b:.0f} s")
    return notes


def length_report(total_seconds: float, minutes: float) -> list[str]:
    """How close a fitted routine came to its target, and why when not within 5 %."""
    target = minutes * 60
    notes = [f"length: {total_seconds / 60:.1f} minutes for a target of {minutes:g}"]
    if abs(total_seconds - target) > 0.05 * target:
        bound = "shortest" if total_seconds > target else "longest"
        notes.append(f"the {bound} version within safe doses is {total_seconds / 60:.1f} "
                     f"minutes; to go further, choose another routine, or set --pace or --hold")
    return notes


def routine_minutes(timeline: Timeline) -> float:
    """The routine's length in minutes, rounded up to a tenth."""
    return math.ceil(timeline.total_seconds / 6) / 10
