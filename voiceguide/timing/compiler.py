"""Compiler: (routine, pacing) → timeline. Pure and deterministic.

How long a text takes to say is passed in (``speech_length``): an estimate from the
word count when only showing a routine's shape, the real clip length when rendering.
The rules people feel:

* a hold of N seconds lasts exactly N seconds from its start cue to its release cue,
  whatever is said inside it; N is a multiple of 5, within the technique's dose
  unless ``beyond_doses``; the form cue is always said in it, and one breathing
  reminder in holds of 15 s or more; other inner cues that would not fit are left out;
* between exercises in different positions, the fewest spoken moves from one to
  the other, each followed by quiet to do it; setup lines of a position already
  taken are not repeated;
* each breath phase lasts exactly its seconds, marked by a rising or falling tone;
* a check-in gate sits between consecutive exercises, at the start of the next one.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, replace
from typing import Callable

from voiceguide.audio.cues import CUE_SECONDS
from voiceguide.routine.model import (EQUIPMENT, Breath, Cycle, Exercise, Flow, Hold, Phrases,
                              Positions, Routine)
from voiceguide.routine.pacing import CHECKIN_PAUSE, HOLD_LIMITS, Pacing
from voiceguide.timing.timeline import Event, EventKind, Gate, HoldSpan, Section, Timeline, samples

SpeechLength = Callable[[str], float]

LINE_GAP = 0.7          # seconds of quiet after an instruction, to follow it
REP_REST = 5.0          # seconds between repeated holds
DEFAULT_REST = 5.0      # seconds between exercises at normal pace
MIN_BREATH_PHASE = 1.0  # seconds; room for the inhale or exhale tone
MIN_SCALED_HOLD = 10    # seconds: a hold scaled by pace or --length never goes below
LENGTH_DOSES = (0.2, 6.0)  # the search range of --length's scale factor
HOLD_STEP = 5           # seconds: every hold and flow is a multiple of this


def estimated_speech(rate: int) -> SpeechLength:
    """A speech-length estimate from word count and speech rate (words per minute)."""

    @functools.lru_cache(maxsize=4096)
    def length(text: str) -> float:
        words = len(re.findall(r"[A-Za-z0-9']+", text))
        pauses = len(re.findall(r"[,.;:?!]", text))
        return 0.1 + words * 51.0 / rate + 0.12 * pauses

    return length


def spoken_duration(secs: int) -> str:
    """``25 seconds``, ``1 minute``, ``2 minutes and 30 seconds``."""
    if secs < 90 and secs % 60:
        return f"{secs} seconds"
    minutes, rest = divmod(secs, 60)
    text = f"{minutes} minute" + ("s" if minutes != 1 else "")
    return text + (f" and {rest} seconds" if rest else "")


@dataclass
class _Item:
    """Something to place inside a fixed-length window, at a wished-for offset."""

    offset: int
    text: str | None = None
    cue: str | None = None


class _Builder:
    """Appends events one after another and keeps sections and holds."""

    def __init__(self, speech_length: SpeechLength, pacing: Pacing):
        self.speech_length = speech_length
        self.pacing = pacing
        self.full = pacing.voice_guidance == "full"
        self.events: list[Event] = []
        self.sections: list[tuple[str, str | None, int]] = []
        self.holds: list[HoldSpan] = []
        self.cursor = 0
        self._lengths: dict[str, int] = {}

    # -- primitives
    def _add(self, kind: EventKind, length: int, **fields) -> None:
        if length <= 0:
            return
        section = len(self.sections) - 1
        last = self.events[-1] if self.events else None
        if kind == EventKind.SILENCE and last and last.kind == EventKind.SILENCE and last.section == section:
            self.events[-1] = Event(EventKind.SILENCE, last.start, last.length + length, section)
        else:
            self.events.append(Event(kind, self.cursor, length, section, **fields))
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

    def window(self, total: int, items: list[_Item]) -> int:
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


@functools.lru_cache(maxsize=1)
def default_positions() -> Positions:
    """The built-in positions and moves (read once)."""
    from voiceguide.routine.loader import load_positions

    return load_positions()


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


def _norm(text: str) -> str:
    return re.sub(r"[^a-z ]", "", text.lower()).strip()


def compile_routine(routine: Routine, pacing: Pacing, speech_length: SpeechLength,
                    phrases: Phrases, positions: Positions | None = None,
                    notice: bool = True) -> Timeline:
    """Compile a routine into a timeline.

    ``notice`` starts it with the short spoken not-medical-advice notice (every
    export, and play without check-ins). Between exercises in different positions
    the moves of :meth:`Positions.path` are spoken, with quiet to do them.
    """
    positions = positions or default_positions()
    exercises = routine.active_exercises
    b = _Builder(speech_length, pacing)
    b.section("Welcome", None)
    if notice:
        b.lines(phrases.notice, essential=True)
    b.cue("start")
    b.say(phrases.routine_title.format(title=routine.title), essential=True,
          gap=LINE_GAP * pacing.pace)
    b.lines(phrases.opening, essential=True)
    here = exercises[0].technique.position if exercises else "back"
    b.say(phrases.start_position.format(position=positions.positions[here].name),
          gap=LINE_GAP * pacing.pace)
    things = things_to_have(routine, positions)
    if things:
        b.say(phrases.have_ready.format(things=spoken_list([THINGS[t] for t in things])),
              gap=LINE_GAP * pacing.pace)
    b.checkin(phrases.pain_question, Gate.BASELINE)
    b.quiet(LINE_GAP)
    for index, exercise in enumerate(exercises):
        technique = exercise.technique
        b.section(technique.title, technique.id)
        there = technique.position
        if index == 0:
            b.say(phrases.first_exercise.format(title=technique.title),
                  gap=LINE_GAP * pacing.pace)
            b.lines(positions.positions[there].settle)
        else:
            b.checkin(phrases.checkin_question, Gate.BETWEEN)
            b.quiet(LINE_GAP)
            b.say(phrases.preview.format(title=technique.title,
                                         position=positions.positions[there].name),
                  gap=LINE_GAP * pacing.pace)
            if there != here:
                _transition(b, positions, here, there, pacing)
        if there != here or index == 0:
            said = {_norm(line) for line in positions.positions[there].settle}
        here = there
        _exercise(b, exercise, pacing, phrases, said)
        b.quiet(rest_seconds(pacing))
    b.section("Closing", None)
    b.checkin(phrases.pain_question, Gate.FINAL)
    b.quiet(LINE_GAP)
    b.lines(phrases.closing, essential=True)
    b.lines(positions.positions[here].finish, essential=True)
    b.cue("end")
    return b.build(routine, pacing)


def _transition(b: _Builder, positions: Positions, start: str, end: str,
                pacing: Pacing) -> None:
    """Spoken moves from ``start`` to ``end``, each followed by time to do it."""
    for move in positions.path(start, end):
        for text in move.say:
            b.say(text, gap=LINE_GAP * pacing.pace)
        b.quiet(move.seconds * pacing.pace)
    b.lines(positions.positions[end].settle)


def _exercise(b: _Builder, exercise: Exercise, pacing: Pacing, phrases: Phrases,
              said: set[str]) -> None:
    """One exercise; setup lines in ``said`` (said since arriving in this position)
    are left out, and the ones spoken are added to it."""
    technique = exercise.technique
    setup = [line for line in technique.setup if _norm(line) not in said]
    said.update(_norm(line) for line in setup)
    b.lines(setup)
    movement = technique.movement
    sided = isinstance(movement, Hold) and movement.on_side
    if not sided:   # a sided hold names the limb first, then its safety lines
        b.lines(technique.safety)
    b.quiet(technique.settle * pacing.pace)
    if isinstance(movement, Hold):
        _hold(b, exercise, movement, pacing, phrases)
    elif isinstance(movement, Breath):
        _breath(b, movement, rounds(exercise, pacing), pacing, phrases)
        b.lines(technique.release or phrases.release)
    elif isinstance(movement, Flow):
        total = hold_seconds(exercise, pacing)
        b.window(samples(total), _timed_items(b, technique, movement.reminders, total,
                                              phrases, phrases.flow_start))
        b.lines(technique.release or phrases.release)
    elif isinstance(movement, Cycle):
        _cycle(b, movement, rounds(exercise, pacing), pacing, phrases)
        b.lines(technique.release or phrases.release)


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
    """Quiet between exercises: as given, or 5 s scaled by pace; then by --length."""
    base = pacing.rest if pacing.rest is not None else DEFAULT_REST * pacing.pace
    return min(120.0, base * pacing.dose)


def _counted(movement) -> bool:
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
    if _counted(movement) and pacing.dose != 1.0:
        value = min(high, max(low, int(round(value * pacing.dose))))
    return value


def dose_notes(routine: Routine, pacing: Pacing) -> list[str]:
    """What ``--hold``/``--reps`` (or a routine's pacing) asked outside a technique's
    dose range, and what was used instead (nothing with ``beyond_doses``)."""
    if pacing.beyond_doses:
        return []
    notes = []
    for exercise in routine.active_exercises:
        movement = exercise.technique.movement
        name = exercise.technique.id
        if pacing.hold is not None and isinstance(movement, Hold):
            low, high = movement.range
            if not low <= pacing.hold <= high:
                notes.append(f"{name}: hold {pacing.hold:g} s clamped to "
                             f"{hold_seconds(exercise, pacing)} s, the sources' dose is "
                             f"{low:g}-{high:g} s (--beyond-doses to go outside it)")
        if pacing.reps is not None and _counted(movement) and not isinstance(movement, Flow):
            low, high = movement.reps_range if isinstance(movement, Hold) else movement.range
            if not low <= pacing.reps <= high:
                notes.append(f"{name}: reps {pacing.reps} clamped to {rounds(exercise, pacing)}, "
                             f"the sources' dose is {low}-{high} (--beyond-doses to go "
                             "outside it)")
    return notes


def _is_breathing(text: str) -> bool:
    return re.search(r"\bbreath", text.lower()) is not None


class _Slots:
    """Offsets (samples) inside a window, with what is already placed."""

    def __init__(self, b: _Builder, total: int):
        self.b, self.total = b, total
        self.items: list[_Item] = []
        self.taken: list[tuple[int, int]] = []

    def length(self, item: _Item) -> int:
        return (self.b.speech_samples(item.text) if item.text is not None
                else samples(CUE_SECONDS[item.cue]))

    def fixed(self, item: _Item) -> None:
        self.items.append(item)
        self.taken.append((item.offset, item.offset + self.length(item)))

    def place(self, text: str, wish: int, margin: int = samples(0.6)) -> int | None:
        """Put ``text`` at the first free offset from ``wish``; its end, or None."""
        length = self.b.speech_samples(text)
        offset = wish
        while offset + length <= self.total:
            clash = [end for start, end in self.taken
                     if offset < end + margin and start < offset + length + margin]
            if not clash:
                self.fixed(_Item(offset, text))
                return offset + length
            offset = max(clash) + margin
        return None


def _timed_items(b: _Builder, technique, reminders, total: int, phrases: Phrases,
                 start_phrase: str) -> list[_Item]:
    """Start cue, the form cue, one breathing reminder (15 s or more), reminders
    spread evenly, time left, and the 3-2-1 countdown."""
    slots = _Slots(b, samples(total))
    if not b.full:
        slots.fixed(_Item(0, cue="tick"))
        if b.pacing.countdown and total >= 8:
            for i in range(len(phrases.countdown)):
                slots.fixed(_Item(samples(total - len(phrases.countdown) + i), cue="tick"))
        return slots.items
    first = _Item(0, start_phrase.format(duration=spoken_duration(total)))
    short = b.speech_samples(first.text) > samples(total) // 2
    slots.fixed(_Item(0, phrases.hold_start_short) if short else first)
    if b.pacing.countdown and total >= 8:
        for i, word in enumerate(phrases.countdown):
            slots.fixed(_Item(samples(total - len(phrases.countdown) + i), word))
    if total >= 20:
        slots.fixed(_Item(samples(total - 10), phrases.ten_left))
    if total >= 60:
        slots.fixed(_Item(samples(total - 30), phrases.thirty_left))
    after = slots.taken[0][1]
    form = technique.form
    if form:
        after = slots.place(form, after + samples(0.5)) or after
    others = [r for r in reminders if r != form]
    if total >= 15 and not (form and _is_breathing(form)):
        breathing = next((r for r in others if _is_breathing(r)), phrases.form_breath)
        slots.place(breathing, after + samples(1.5))
    others = [r for r in others if not _is_breathing(r)]
    quiet_from, quiet_to = 8, total - 12
    count = min(len(others), max(0, (quiet_to - quiet_from) // 10))
    for i in range(count):
        slots.place(others[i], samples(quiet_from + (quiet_to - quiet_from) * (i + 0.5) / count))
    return slots.items


def _hold(b: _Builder, exercise: Exercise, movement: Hold, pacing: Pacing,
          phrases: Phrases) -> None:
    technique = exercise.technique
    total = hold_seconds(exercise, pacing)
    reps = rounds(exercise, pacing)
    both = movement.sides if exercise.sides is None else exercise.sides
    for number, side in enumerate(("left", "right") if both else (None,)):
        if number:
            b.cue("switch")
            b.quiet(0.5)
        if side:
            b.say(phrases.left_side if side == "left" else phrases.right_side,
                  gap=LINE_GAP * 0.5)
        if movement.on_side:
            text = re.sub(r"\s+", " ", movement.on_side.format(side=side or "")).strip()
            b.say(text, gap=LINE_GAP * pacing.pace)
            if number == 0:
                b.lines(technique.safety)
            b.quiet(1.5 * pacing.pace)
        for rep in range(reps):
            if reps > 1:
                b.say(phrases.round_of.format(n=rep + 1, total=reps), gap=0.3)
            start = b.window(samples(total), _timed_items(b, technique, movement.reminders,
                                                          total, phrases, phrases.hold_start))
            b.holds.append(HoldSpan(technique.id, side, start, samples(total)))
            b.lines(technique.release or phrases.release)
            if rep < reps - 1:
                b.quiet(REP_REST * pacing.pace)


def _breath(b: _Builder, movement: Breath, count: int, pacing: Pacing,
            phrases: Phrases) -> None:
    phase = breath_phases(pacing)
    tone = samples(CUE_SECONDS["inhale"])
    for number in range(1, count + 1):
        if number <= 2:
            inhale, exhale = movement.inhale, movement.exhale
        else:
            inhale = phrases.last_round if number == count else \
                phrases.breath_count.format(n=number)
            exhale = None
        b.window(phase[0], [_Item(0, cue="inhale"), _Item(tone, inhale)])
        b.window(phase[1], [])
        b.window(phase[2], [_Item(0, cue="exhale")] + ([_Item(tone, exhale)] if exhale else []))
        b.window(phase[3], [])


def breath_phases(pacing: Pacing) -> list[int]:
    """Samples of inhale, hold, exhale, hold; an inhale or exhale is at least 1 s."""
    pattern = pacing.breath
    phases = [samples(s * pacing.pace) for s in
              (pattern.inhale, pattern.hold_in, pattern.exhale, pattern.hold_out)]
    for i in (0, 2):
        phases[i] = max(phases[i], samples(MIN_BREATH_PHASE))
    return phases


def _cycle(b: _Builder, movement: Cycle, count: int, pacing: Pacing,
           phrases: Phrases) -> None:
    for number in range(1, count + 1):
        if count > 1:
            b.say(phrases.round_of.format(n=number, total=count), gap=0.3)
        for step in movement.steps:
            mark = _Item(0, step.say) if b.full else _Item(0, cue="tick")
            b.window(samples(step.seconds * pacing.pace), [mark])


def compile_message(name: str, title: str, lines, speech_length: SpeechLength,
                    pace: float = 1.0, question: tuple[str, Gate] | None = None,
                    rest: float = 0.0, after=(), then: str | None = None) -> Timeline:
    """A short spoken message (stop, intro, an acknowledgement...) as a timeline.

    ``question`` is ``(text, gate)`` for a question asked at its end; ``rest``
    seconds of quiet and then the ``after`` lines may follow the lines. ``then``
    is a few words said last, as a ``continue`` gate with no pause: the player
    goes back to the routine there (an acknowledgement of an answer).
    """
    b = _Builder(speech_length, Pacing(pace=pace))
    b.section(title, None)
    if then is None:
        b.cue("checkin")
    b.lines(lines, essential=True)
    if rest:
        b.quiet(rest)
        b.lines(after, essential=True)
    if question is not None:
        b.checkin(*question)
    elif then is not None:
        b._add(EventKind.CHECKIN, b.speech_samples(then), text=then, pause=0,
               gate=Gate.CONTINUE)
    else:
        b.cue("end")
    return b.build(Routine(name, title, ()), Pacing(pace=pace))


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
               phrases: Phrases, minutes: float, positions: Positions | None = None,
               notice: bool = True) -> Fitted:
    """The routine and pacing that come within 5 % of ``minutes``, within doses.

    Holds, rounds and rests are scaled together, each within its technique's
    range (and holds at 10 s or more). When that is not short enough, whole
    exercises are left out by :func:`drop_order` (the warm-up and the last one
    stay); when not long enough, the middle exercises are done again, as more
    rounds of the routine. Raises :class:`LengthError` below the shortest version.
    """
    target = minutes * 60
    low_dose, high_dose = LENGTH_DOSES

    def total(candidate: Routine, dose: float) -> float:
        return compile_routine(candidate, replace(pacing, dose=dose), speech_length, phrases,
                               positions, notice).total_seconds

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
    circuits = 1
    while total(repeated(candidate, circuits), high_dose) < target and circuits < 60:
        circuits += 1
    # the fewest rounds that reach the target, or one fewer when that comes closer
    options = []
    for count in sorted({max(1, circuits - 1), circuits}):
        version = repeated(candidate, count)
        dose = _best_dose(lambda d, version=version: total(version, d), target)
        options.append((abs(total(version, dose) - target), count, version, dose))
    _, circuits, candidate, dose = min(options, key=lambda option: option[:2])
    if circuits > 1:
        notes.append(f"the exercises after the warm-up are done {circuits} times")
    fitted = replace(pacing, dose=dose)
    return Fitted(candidate, fitted, notes + _changes(candidate, pacing, fitted))


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


def length_report(total_seconds: float, minutes: float) -> list[str]:
    """How close a fitted routine came to its target, and why when not within 5 %."""
    target = minutes * 60
    notes = [f"length: {total_seconds / 60:.1f} minutes for a target of {minutes:g}"]
    if abs(total_seconds - target) > 0.05 * target:
        bound = "shortest" if total_seconds > target else "longest"
        notes.append(f"the {bound} version within safe doses is {total_seconds / 60:.1f} "
                     f"minutes; to go further, choose another routine, or set --pace or --hold")
    return notes


def _changes(routine: Routine, before: Pacing, after: Pacing) -> list[str]:
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


def routine_minutes(timeline: Timeline) -> float:
    """The routine's length in minutes, rounded up to a tenth."""
    return math.ceil(timeline.total_seconds / 6) / 10
