"""Compiler: (routine, pacing) → timeline. Pure and deterministic.

How long a text takes to say is passed in (``speech_length``): an estimate from the
word count when only showing a routine's shape, the real clip length when rendering.
The rules people feel:

* a hold of N seconds lasts exactly N seconds from its start cue to its release cue,
  whatever is said inside it; inner cues that would not fit are left out;
* each breath phase lasts exactly its seconds, marked by a rising or falling tone;
* a check-in gate sits between consecutive exercises, at the start of the next one.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Callable

from voiceguide.cues import CUE_SECONDS
from voiceguide.model import Breath, Cycle, Exercise, Flow, Hold, Phrases, Routine
from voiceguide.pacing import CHECKIN_PAUSE, Pacing
from voiceguide.timeline import Event, HoldSpan, Section, Timeline, samples

SpeechLength = Callable[[str], float]

LINE_GAP = 0.7          # seconds of quiet after an instruction, to follow it
REP_REST = 5.0          # seconds between repeated holds
DEFAULT_REST = 5.0      # seconds between exercises at normal pace
MIN_BREATH_PHASE = 1.0  # seconds; room for the inhale or exhale tone
MIN_SCALED_HOLD = 10    # seconds: a hold scaled by pace or --length never goes below
LENGTH_DOSES = (0.2, 6.0)  # the search range of --length's scale factor
GENTLER_FACTOR = 0.6    # holds after a "worse" answer are this much shorter


def estimated_speech(rate: int) -> SpeechLength:
    """A speech-length estimate from word count and speech rate (words per minute)."""

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

    # -- primitives
    def _add(self, kind: str, length: int, **fields) -> None:
        if length <= 0:
            return
        section = len(self.sections) - 1
        last = self.events[-1] if self.events else None
        if kind == "silence" and last and last.kind == "silence" and last.section == section:
            self.events[-1] = Event("silence", last.start, last.length + length, section)
        else:
            self.events.append(Event(kind, self.cursor, length, section, **fields))
        self.cursor += length

    def speech_samples(self, text: str) -> int:
        return max(1, samples(self.speech_length(text)))

    def say(self, text: str, essential: bool = False, gap: float = 0.0) -> None:
        """Speak ``text``; in cues-only guidance only essential words are spoken."""
        if self.full or essential:
            self._add("speech", self.speech_samples(text), text=text)
            self.quiet(gap)

    def lines(self, texts, essential: bool = False) -> None:
        for text in texts:
            self.say(text, essential, gap=LINE_GAP * self.pacing.pace)

    def cue(self, name: str) -> None:
        self._add("cue", samples(CUE_SECONDS[name]), cue=name)

    def quiet(self, secs: float) -> None:
        self._add("silence", samples(secs))

    def checkin(self, question: str, gate: str) -> None:
        self.cue("checkin")
        pause = samples(CHECKIN_PAUSE)
        self._add("checkin", self.speech_samples(question) + pause, text=question, pause=pause,
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
            self._add("silence", item.offset - used)
            if item.text is not None:
                self._add("speech", length, text=item.text)
            else:
                self._add("cue", length, cue=item.cue)
            used = item.offset + length
        self._add("silence", total - used)
        assert self.cursor == start + total
        return start

    def build(self, routine: Routine, pacing: Pacing) -> Timeline:
        bounds = [s[2] for s in self.sections[1:]] + [self.cursor]
        sections = [Section(title, technique, start, end - start)
                    for (title, technique, start), end in zip(self.sections, bounds)]
        return Timeline(routine.name, routine.title, self.events, sections, self.holds,
                        pacing.as_dict())


def compile_routine(routine: Routine, pacing: Pacing, speech_length: SpeechLength,
                    phrases: Phrases, gentler: frozenset[int] = frozenset()) -> Timeline:
    """Compile a routine into a timeline.

    ``gentler`` holds the indices (among the routine's active exercises) that run
    with shorter holds and fewer rounds, after a "worse" check-in.
    """
    b = _Builder(speech_length, pacing)
    b.section("Welcome", None)
    b.cue("start")
    b.say(phrases.routine_title.format(title=routine.title), essential=True,
          gap=LINE_GAP * pacing.pace)
    b.lines(phrases.opening, essential=True)
    b.checkin(phrases.pain_question, "baseline")
    b.quiet(LINE_GAP)
    for index, exercise in enumerate(routine.active_exercises):
        technique = exercise.technique
        b.section(technique.title, technique.id)
        if index > 0:
            b.checkin(phrases.checkin_question, "between")
            b.quiet(LINE_GAP)
        title_line = phrases.first_exercise if index == 0 else phrases.next_exercise
        b.say(title_line.format(title=technique.title), gap=LINE_GAP * pacing.pace)
        _exercise(b, exercise, pacing, phrases, index in gentler)
        b.quiet(rest_seconds(pacing))
    b.section("Closing", None)
    b.checkin(phrases.pain_question, "final")
    b.quiet(LINE_GAP)
    b.lines(phrases.closing, essential=True)
    b.cue("end")
    return b.build(routine, pacing)


def _exercise(b: _Builder, exercise: Exercise, pacing: Pacing, phrases: Phrases,
              gentle: bool) -> None:
    technique = exercise.technique
    b.lines(technique.safety)
    b.lines(technique.setup)
    b.quiet(technique.settle * pacing.pace)
    movement = technique.movement
    if isinstance(movement, Hold):
        _hold(b, exercise, movement, pacing, phrases, gentle)
    elif isinstance(movement, Breath):
        _breath(b, movement, rounds(exercise, pacing, gentle), pacing, phrases)
        b.lines(technique.release or phrases.release)
    elif isinstance(movement, Flow):
        total = hold_seconds(exercise, pacing, gentle)
        b.window(samples(total), _timed_items(b, movement.reminders, total, phrases,
                                              phrases.flow_start))
        b.lines(technique.release or phrases.release)
    elif isinstance(movement, Cycle):
        _cycle(b, movement, rounds(exercise, pacing, gentle), pacing, phrases)
        b.lines(technique.release or phrases.release)


def hold_seconds(exercise: Exercise, pacing: Pacing, gentle: bool = False) -> int:
    """Whole seconds of a hold or flow, after every override.

    The pacing ``hold`` (seconds for every timed hold) is used exactly as given.
    Otherwise the exercise's own length, or the technique's default, is scaled by
    pace and kept within the technique's safe range.
    """
    movement = exercise.technique.movement
    if pacing.hold is not None and isinstance(movement, Hold):
        value = pacing.hold
    else:
        low, high = movement.range
        base = exercise.hold if exercise.hold is not None else movement.seconds
        value = min(high, max(low, MIN_SCALED_HOLD, base * pacing.pace * pacing.dose))
    if gentle:
        value = max(5, value * GENTLER_FACTOR)
    return max(1, int(round(value)))


def rest_seconds(pacing: Pacing) -> float:
    """Quiet between exercises: as given, or 5 s scaled by pace; then by --length."""
    base = pacing.rest if pacing.rest is not None else DEFAULT_REST * pacing.pace
    return min(120.0, base * pacing.dose)


def rounds(exercise: Exercise, pacing: Pacing, gentle: bool = False) -> int:
    """Rounds of a breath or cycle, or repetitions of a hold, after every override.

    The pacing ``reps`` overrides breath and cycle rounds and the repetitions of
    holds that repeat (their default is more than one); otherwise the exercise's
    own count, or the technique's default.
    """
    movement = exercise.technique.movement
    default = movement.reps if isinstance(movement, Hold) else movement.rounds
    counted = not isinstance(movement, Hold) or movement.reps > 1
    if pacing.reps is not None and counted:
        value = pacing.reps
    else:
        value = exercise.reps if exercise.reps is not None else default
        if counted and pacing.dose != 1.0:
            low, high = movement.reps_range if isinstance(movement, Hold) else movement.range
            value = min(high, max(low, int(round(value * pacing.dose))))
    if gentle:
        value = max(1, value // 2)
    return value


def _timed_items(b: _Builder, reminders, total: int, phrases: Phrases,
                 start_phrase: str) -> list[_Item]:
    """Start cue, reminders spread evenly, time left, and the 3-2-1 countdown."""
    if b.full:
        first = _Item(0, start_phrase.format(duration=spoken_duration(total)))
        short = b.speech_samples(first.text) > samples(total) // 2
        items = [_Item(0, phrases.hold_start_short) if short else first]
    else:
        items = [_Item(0, cue="tick")]
    quiet_from, quiet_to = 8, total - 12
    count = min(len(reminders), max(0, (quiet_to - quiet_from) // 10))
    for i in range(count):
        offset = quiet_from + (quiet_to - quiet_from) * (i + 0.5) / count
        items.append(_Item(samples(offset), reminders[i]))
    if total >= 60:
        items.append(_Item(samples(total - 30), phrases.thirty_left))
    if total >= 20:
        items.append(_Item(samples(total - 10), phrases.ten_left))
    if b.pacing.countdown and total >= 8:
        for i, word in enumerate(phrases.countdown):
            offset = samples(total - len(phrases.countdown) + i)
            items.append(_Item(offset, word) if b.full else _Item(offset, cue="tick"))
    return items


def _hold(b: _Builder, exercise: Exercise, movement: Hold, pacing: Pacing,
          phrases: Phrases, gentle: bool) -> None:
    technique = exercise.technique
    total = hold_seconds(exercise, pacing, gentle)
    reps = rounds(exercise, pacing, gentle)
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
            b.quiet(1.5 * pacing.pace)
        for rep in range(reps):
            if reps > 1:
                b.say(phrases.round_of.format(n=rep + 1, total=reps), gap=0.3)
            start = b.window(samples(total), _timed_items(b, movement.reminders, total,
                                                          phrases, phrases.hold_start))
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
                    pace: float = 1.0, question: tuple[str, str] | None = None,
                    rest: float = 0.0, after=()) -> Timeline:
    """A short spoken message (stop, cool-down, intro...) as a timeline of its own.

    ``question`` is ``(text, gate)`` for a question asked at its end; ``rest``
    seconds of quiet and then the ``after`` lines may follow the lines.
    """
    b = _Builder(speech_length, Pacing(pace=pace))
    b.section(title, None)
    b.cue("checkin")
    b.lines(lines, essential=True)
    if rest:
        b.quiet(rest)
        b.lines(after, essential=True)
    if question is not None:
        b.checkin(*question)
    else:
        b.cue("end")
    return b.build(Routine(name, title, ()), Pacing(pace=pace))


def fit_length(routine: Routine, pacing: Pacing, speech_length: SpeechLength,
               phrases: Phrases, minutes: float) -> tuple[Pacing, list[str]]:
    """Pacing that brings the routine as close to ``minutes`` as safe doses allow.

    Holds, rounds and rests are scaled together, each kept within its technique's
    range (and holds at 10 s or more). Returns the pacing and what changed, in
    words (see :func:`length_report` for how close it came).
    """
    target = minutes * 60

    def total(dose: float) -> float:
        return compile_routine(routine, replace(pacing, dose=dose), speech_length,
                               phrases).total_seconds

    low, high = LENGTH_DOSES
    for _ in range(30):
        middle = (low + high) / 2
        if total(middle) < target:
            low = middle
        else:
            high = middle
    dose = min((low, high), key=lambda d: abs(total(d) - target))
    fitted = replace(pacing, dose=dose)
    return fitted, _changes(routine, pacing, fitted)


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
    for exercise in routine.active_exercises:
        movement = exercise.technique.movement
        name = exercise.technique.id
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
