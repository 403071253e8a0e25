"""Fitting a routine to a length (``--length``), and saying how long a routine is.

:func:`fit_length` finds the routine and pacing that come within 5 % of a number of
minutes without leaving any technique's dose: it scales holds, rounds and rests
together (a pacing's ``dose``), leaves out exercises by :func:`drop_order` (never a
step that protects one kept), or does the middle ones a second time
(:func:`repeated`): no exercise more than twice, and each technique's total in the
session within its dose range. It compiles candidates with the compiler and the
speech lengths it is given; it reads no file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

from voiceguide.routine.model import Exercise, Flow, Hold, Phrases, Positions, Routine
from voiceguide.routine.pacing import Pacing
from voiceguide.timing.compiler import SpeechLength, compile_routine
from voiceguide.timing.dosing import hold_seconds, rest_seconds, rounds, shared
from voiceguide.timing.timeline import Audience, Timeline

LENGTH_DOSES = (0.2, 12.0)  # the search range of --length's scale factor
TOLERANCE = 0.05            # a fitted length comes within 5 % of its target
ONE_ROUND_DOSE = 2.0        # above this scale, a second round is preferred to it


@dataclass
class Fitted:
    """A routine fitted to a length: the exercises kept, the pacing, what changed."""

    routine: Routine
    pacing: Pacing
    notes: list[str]


class LengthError(ValueError):
    """The target is below the routine's shortest safe version, or (``longest``)
    above its longest; ``seconds`` is that version's length."""

    def __init__(self, seconds: float, longest: bool = False):
        super().__init__(f"{seconds / 60:.1f} minutes")
        self.seconds = seconds
        self.longest = longest


def drop_order(routine: Routine) -> list[int]:
    """Indices of active exercises in the order ``--length`` leaves them out:
    highest ``priority`` first, later ones first on a tie; never the first (the
    warm-up) nor the last (the relaxing end). A step that protects a later one
    (its technique's ``protects``) is kept as long as that one: it counts at the
    lower of the two priorities, and so goes after it."""
    exercises = routine.active_exercises

    def kept_by(i: int) -> int:
        return min([exercises[i].priority] + [e.priority for e in exercises[i + 1:]
                                              if _protects(exercises[i], e)])

    middle = range(1, len(exercises) - 1)
    return sorted(middle, key=lambda i: (-kept_by(i), -i))


def _protects(exercise: Exercise, other: Exercise) -> bool:
    return other.technique.id in exercise.technique.protects


def with_exercises(routine: Routine, exercises) -> Routine:
    """The routine with these (active) exercises."""
    return replace(routine, exercises=tuple(exercises))


def repeated(routine: Routine) -> Routine | None:
    """The routine with a second round of its middle exercises (the last exercise
    when there is no middle); warm-up first, the end last. Only exercises whose
    technique's dose range holds both rounds are done again, each round with its
    share of the range (:func:`~voiceguide.timing.dosing.shared`), and a protected
    one only with what protects it. None when nothing can be done again."""
    exercises = routine.active_exercises
    if len(exercises) < 2:
        return None
    first, middle, last = exercises[0], exercises[1:-1], exercises[-1]
    again = [e for e in (middle or (last,)) if shared(exercises + (e,)) is not None]
    again = [e for e in again if all(p in again for p in exercises if _protects(p, e))]
    if not again:
        return None
    order = (first,) + middle + tuple(again) + (last,)
    return with_exercises(routine, shared(order))


def fit_length(routine: Routine, pacing: Pacing, speech_length: SpeechLength,
               phrases: Phrases, minutes: float, positions: Positions,
               audience: Audience = Audience.PLAY) -> Fitted:
    """The routine and pacing that come within 5 % of ``minutes``, within doses.

    Holds, rounds and rests are scaled together, each within its technique's
    range (holds at 10 s or more, rests at most a minute). When that is not short
    enough, whole exercises are left out by :func:`drop_order` (the warm-up and the
    last one stay); when not long enough, the middle exercises are done a second
    time (:func:`repeated`). Raises :class:`LengthError` below the shortest
    version or above the longest.
    """
    target = minutes * 60

    def total(candidate: Routine, dose: float) -> float:
        return compile_routine(candidate, replace(pacing, dose=dose), speech_length, phrases,
                               positions, audience).total_seconds

    candidate, notes = _shortened(routine, total, target)
    version, dose = _version_and_dose(candidate, total, target)
    if version is not candidate:
        twice = sorted({e.technique.id for e in version.active_exercises[1:-1]
                        if version.active_exercises.count(e) > 1})
        notes.append(f"done twice: {', '.join(twice)}")
    fitted = replace(pacing, dose=dose)
    return Fitted(version, fitted, notes + _changes(routine, version, pacing, fitted))


def _shortened(routine: Routine, total: Callable[[Routine, float], float],
               target: float) -> tuple[Routine, list[str]]:
    """The routine with exercises left out (by :func:`drop_order`, never one that
    protects an exercise kept) until its shortest dose comes within 5 % of
    ``target``, and a note for each one left out; :class:`LengthError` when even
    the shortest is too long."""
    low_dose = LENGTH_DOSES[0]
    exercises = routine.active_exercises
    kept, notes = list(exercises), []
    candidate = with_exercises(routine, kept)
    for index in drop_order(routine):
        if total(candidate, low_dose) <= target * (1 + TOLERANCE):
            break
        if any(_protects(exercises[index], e) for e in kept):
            continue
        notes.append(f"left out {exercises[index].technique.id} (priority "
                     f"{exercises[index].priority})")
        kept.remove(exercises[index])
        candidate = with_exercises(routine, kept)
    shortest = total(candidate, low_dose)
    if shortest > target * (1 + TOLERANCE):
        raise LengthError(shortest)
    return candidate, notes


def _version_and_dose(candidate: Routine, total: Callable[[Routine, float], float],
                      target: float) -> tuple[Routine, float]:
    """The candidate, or its :func:`repeated` version when the candidate at
    :data:`ONE_ROUND_DOSE` falls short of ``target``, and its dose: of those that
    come within 5 %, the one :func:`_tier` wants most (more exercises rather than
    ever longer warm-ups and rests, but no shortened ones), else the closer;
    :class:`LengthError` when even the longest is more than 5 % short."""
    high_dose = LENGTH_DOSES[1]
    versions = [candidate]
    if total(candidate, ONE_ROUND_DOSE) < target:
        versions += [v for v in (repeated(candidate),) if v is not None]
    longest = max(total(v, high_dose) for v in versions)
    if longest < target * (1 - TOLERANCE):
        raise LengthError(longest, longest=True)
    options = []
    for rank, version in enumerate(versions):
        dose = _best_dose(lambda d, version=version: total(version, d), target)
        miss = abs(total(version, dose) - target)
        options.append((miss > target * TOLERANCE, _tier(rank, dose), miss, version, dose))
    *_, version, dose = min(options, key=lambda option: option[:3])
    return version, dose


def _tier(rank: int, dose: float) -> int:
    """How much a version that reaches the target is wanted: one round at a dose of
    at most :data:`ONE_ROUND_DOSE`, then a second round with no dose below its
    own, then one round at any dose, then a second round at any dose."""
    if rank == 0:
        return 0 if dose <= ONE_ROUND_DOSE else 2
    return 1 if dose >= 1 else 3


def _best_dose(total: Callable[[float], float], target: float) -> float:
    """The dose within :data:`LENGTH_DOSES` whose length comes closest to ``target``
    (lengths grow with the dose)."""
    low, high = LENGTH_DOSES
    for _ in range(14):
        middle = (low + high) / 2
        if total(middle) < target:
            low = middle
        else:
            high = middle
    return min((low, high), key=lambda d: abs(total(d) - target))


def _changes(routine: Routine, version: Routine, before: Pacing, after: Pacing) -> list[str]:
    """What fitting changed, per technique (once each, each time when done twice):
    from its exercise in ``routine`` at ``before`` to ``version`` at ``after``; and
    in the rest."""
    notes = []
    original = {}
    for exercise in routine.active_exercises:
        original.setdefault(exercise.technique.id, exercise)
    for name, exercise in {e.technique.id: e for e in version.active_exercises}.items():
        notes += _change(name, original[name], before, exercise, after)
    a, b = rest_seconds(before), rest_seconds(after)
    if round(a) != round(b):
        notes.append(f"rest between exercises: {a:.0f} s -> {b:.0f} s")
    return notes


def _change(name: str, was: Exercise, before: Pacing, now: Exercise,
            after: Pacing) -> list[str]:
    """How an exercise's hold and its count changed, as notes."""
    movement, notes = was.technique.movement, []
    if isinstance(movement, (Hold, Flow)):
        a, b = hold_seconds(was, before), hold_seconds(now, after)
        if a != b:
            notes.append(f"{name}: {a} s -> {b} s")
    if not isinstance(movement, Flow):
        a, b = rounds(was, before), rounds(now, after)
        if a != b:
            what = "reps" if isinstance(movement, Hold) else "rounds"
            notes.append(f"{name}: {a} -> {b} {what}")
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
