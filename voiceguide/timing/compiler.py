"""Compiler: (routine, pacing, speech lengths, phrases, positions) → timeline.

Pure and deterministic: everything it uses is passed in, and it reads no file. How
long a text takes to say is passed in (``speech_length``): :func:`estimated_speech`
(from the word count) when only showing a routine's shape, the real clip length when
rendering. How long each hold, breath and rest lasts is :mod:`.dosing`'s.
The rules people feel:

* a hold of N seconds lasts exactly N seconds from its start cue to its release cue,
  whatever is said inside it; N is a multiple of 5, within the technique's dose
  unless ``beyond_doses``; the form cue is always said in it, and one breathing
  reminder in holds of 15 s or more; other inner cues that would not fit are left out;
* between exercises in different positions, the fewest spoken moves from one to
  the other, each followed by quiet to do it; setup lines of a position already
  taken are not repeated;
* each breath phase lasts exactly its seconds, marked by a rising or falling tone,
  and a breath hold by a short spoken word (a tick in cues-only guidance);
* a check-in gate sits between consecutive exercises, at the start of the next one;
* an engagement kept into the exercise it protects (a technique's ``kept``, the core
  before the pressure) is not released before it: its last hold ends with the
  words to keep it, and its release comes after the protected exercise's own.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Callable

from voiceguide.routine.model import (EQUIPMENT, Breath, Cycle, Exercise, Flow, Hold, Kept,
                                      Phrases, Positions, Routine)
from voiceguide.routine.pacing import CHECKIN_PAUSE, Pacing
from voiceguide.timing.dosing import breath_phases, hold_seconds, rest_seconds, rounds
from voiceguide.timing.timeline import (CUE_SECONDS, Event, EventKind, Gate, HoldSpan, Section,
                                        Timeline, samples)

#: How long a text takes to say, in seconds.
SpeechLength = Callable[[str], float]

LINE_GAP = 0.7          # seconds of quiet after an instruction, to follow it
REP_REST = 5.0          # seconds between repeated holds


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


#: Quiet after each step of getting up at the end (seconds, times pace).
GET_UP_PAUSE = 3.0

#: Where every routine starts: where a person at the computer is.
START_POSITION = "standing"

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
                    phrases: Phrases, positions: Positions, notice: bool = True) -> Timeline:
    """Compile a routine into a timeline.

    ``notice`` starts it with the short spoken not-medical-advice notice (every
    export, and play without check-ins); without it (play with check-ins, where
    keys and voice are heard) the opening says that stop works at any moment. Between exercises in different positions
    the moves of :meth:`Positions.path` are spoken, with quiet to do them.
    """
    b = _Builder(speech_length, pacing)
    b.position = START_POSITION
    here = _opening(b, routine, pacing, phrases, positions, notice)
    said: set[str] = set()
    exercises = routine.active_exercises
    holding: Kept | None = None
    for index, exercise in enumerate(exercises):
        there = exercise.technique.position
        _arrive(b, index, exercise, here, pacing, phrases, positions)
        b.position = there
        if there != here or index == 0:
            said = {_norm(line) for line in positions.positions[there].settle}
        here = there
        keep = _kept_into(exercise, exercises[index + 1:index + 2])
        _exercise(b, exercise, pacing, phrases, said, keep)
        if holding is not None:
            b.lines(holding.release)
        holding = keep
        b.quiet(rest_seconds(pacing))
    _closing(b, here, phrases, positions)
    return b.build(routine, pacing)


def _kept_into(exercise: Exercise, following) -> Kept | None:
    """The engagement ``exercise`` keeps going into the next (``following``: it,
    or nothing), when that is one it protects; else ``None``."""
    kept = exercise.technique.kept
    if kept is None or not following or following[0].technique.id not in kept.into:
        return None
    return kept


def _release(b: _Builder, technique, phrases: Phrases, keep: Kept | None = None) -> None:
    """The way out of ``technique``, or the words that keep its engagement (``keep``)."""
    b.lines(keep.say if keep is not None else technique.release or phrases.release)


def _opening(b: _Builder, routine: Routine, pacing: Pacing, phrases: Phrases,
             positions: Positions, notice: bool) -> str:
    """The welcome, up to the baseline pain question; the position to start in."""
    exercises = routine.active_exercises
    b.section("Welcome", None)
    if notice:
        b.lines(phrases.notice, essential=True)
    b.cue("start")
    b.say(phrases.routine_title.format(title=routine.title), essential=True,
          gap=LINE_GAP * pacing.pace)
    b.lines(phrases.opening, essential=True)
    if not notice:
        b.say(phrases.stop_any_time, essential=True, gap=LINE_GAP * pacing.pace)
    here = exercises[0].technique.position if exercises else "back"
    b.say(phrases.start_position.format(position=positions.positions[here].name),
          gap=LINE_GAP * pacing.pace)
    things = things_to_have(routine, positions)
    if things:
        b.say(phrases.have_ready.format(things=spoken_list([THINGS[t] for t in things])),
              gap=LINE_GAP * pacing.pace)
    b.checkin(phrases.pain_question, Gate.BASELINE)
    b.quiet(LINE_GAP)
    return here


def _arrive(b: _Builder, index: int, exercise: Exercise, here: str, pacing: Pacing,
            phrases: Phrases, positions: Positions) -> None:
    """The start of an exercise's section: its name (after the check-in between
    exercises, from the second on) and the way from position ``here`` to its own."""
    technique = exercise.technique
    b.section(technique.title, technique.id)
    there = technique.position
    if index == 0:
        b.say(phrases.first_exercise.format(title=technique.title),
              gap=LINE_GAP * pacing.pace)
        if there != START_POSITION:
            b.say(phrases.eyes_open, gap=LINE_GAP * pacing.pace)
        _transition(b, positions, START_POSITION, there, pacing)
        return
    b.checkin(phrases.checkin_question, Gate.BETWEEN)
    b.quiet(LINE_GAP)
    b.say(phrases.preview.format(title=technique.title,
                                 position=positions.positions[there].name),
          gap=LINE_GAP * pacing.pace)
    if there != here:
        _transition(b, positions, here, there, pacing)


def _closing(b: _Builder, here: str, phrases: Phrases, positions: Positions) -> None:
    """The final pain question, the closing lines and the finish from ``here``."""
    b.section("Closing", None)
    b.checkin(phrases.pain_question, Gate.FINAL)
    b.quiet(LINE_GAP)
    b.lines(phrases.closing, essential=True)
    for step in positions.positions[here].finish:   # a pause to do each step of getting up
        b.say(step, essential=True, gap=GET_UP_PAUSE * b.pacing.pace)
    b.cue("end")


def _transition(b: _Builder, positions: Positions, start: str, end: str,
                pacing: Pacing) -> None:
    """Spoken moves from ``start`` to ``end``, each followed by time to do it; the
    body is in a move's start position until its time is over. Moves are spoken in
    every guidance: no position changes blind."""
    for move in positions.path(start, end):
        b.moving = (move.start, move.end)
        for text in move.say:
            b.say(text, essential=True, gap=LINE_GAP * pacing.pace)
        b.quiet(move.seconds * pacing.pace)
        b.position, b.moving = move.end, None
    b.lines(positions.positions[end].settle)


def _exercise(b: _Builder, exercise: Exercise, pacing: Pacing, phrases: Phrases,
              said: set[str], keep: Kept | None = None) -> None:
    """One exercise; setup lines in ``said`` (said since arriving in this position)
    are left out, and the ones spoken are added to it. With ``keep``, it ends with
    the words that keep its engagement going, not its release."""
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
        _hold(b, exercise, movement, pacing, phrases, keep)
    elif isinstance(movement, Breath):
        _breath(b, movement, rounds(exercise, pacing), pacing, phrases)
        _release(b, technique, phrases, keep)
    elif isinstance(movement, Flow):
        total = hold_seconds(exercise, pacing)
        b.window(samples(total), _timed_items(b, technique, movement.reminders, total,
                                              phrases, phrases.flow_start))
        _release(b, technique, phrases, keep)
    elif isinstance(movement, Cycle):
        _cycle(b, movement, rounds(exercise, pacing), pacing, phrases)
        _release(b, technique, phrases, keep)


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
        _ticks(slots, b, total, phrases)
        return slots.items
    _fixed_words(slots, b, total, phrases, start_phrase)
    _reminders(slots, technique.form, reminders, total, phrases)
    return slots.items


def _ticks(slots: _Slots, b: _Builder, total: int, phrases: Phrases) -> None:
    """Cues-only guidance: a tick at the start, and one per word of the countdown."""
    slots.fixed(_Item(0, cue="tick"))
    if b.pacing.countdown and total >= 8:
        for i in range(len(phrases.countdown)):
            slots.fixed(_Item(samples(total - len(phrases.countdown) + i), cue="tick"))


def _fixed_words(slots: _Slots, b: _Builder, total: int, phrases: Phrases,
                 start_phrase: str) -> None:
    """The words at fixed times: the start (short when the long one takes more than
    half the window), the countdown, and the time left."""
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


def _reminders(slots: _Slots, form: str | None, reminders, total: int,
               phrases: Phrases) -> None:
    """The form cue right after the start, one breathing reminder (15 s or more)
    after it, then the other reminders spread evenly where they fit."""
    after = slots.taken[0][1]
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


def _hold(b: _Builder, exercise: Exercise, movement: Hold, pacing: Pacing,
          phrases: Phrases, keep: Kept | None = None) -> None:
    """Each side's holds, each ended by its release (the last, with ``keep``, by the
    words that keep the engagement going)."""
    technique = exercise.technique
    total = hold_seconds(exercise, pacing)
    reps = rounds(exercise, pacing)
    both = movement.sides if exercise.sides is None else exercise.sides
    sides = ("left", "right") if both else (None,)
    for number, side in enumerate(sides):
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
            last = number == len(sides) - 1 and rep == reps - 1
            _release(b, technique, phrases, keep if last else None)
            if rep < reps - 1:
                b.quiet(REP_REST * pacing.pace)


def _breath(b: _Builder, movement: Breath, count: int, pacing: Pacing,
            phrases: Phrases) -> None:
    phase = breath_phases(pacing)
    tone = samples(CUE_SECONDS["inhale"])
    hold = _Item(0, phrases.breath_hold) if b.full else _Item(0, cue="tick")
    for number in range(1, count + 1):
        if number <= 2:
            inhale, exhale = movement.inhale, movement.exhale
        else:
            inhale = phrases.last_round if number == count else \
                phrases.breath_count.format(n=number)
            exhale = None
        b.window(phase[0], [_Item(0, cue="inhale"), _Item(tone, inhale)])
        b.window(phase[1], [hold])
        b.window(phase[2], [_Item(0, cue="exhale")] + ([_Item(tone, exhale)] if exhale else []))
        b.window(phase[3], [hold])


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
                    rest: float = 0.0, after=(), then: str | None = None,
                    step: float = 0.0) -> Timeline:
    """A short spoken message (stop, intro, an acknowledgement...) as a timeline.

    ``question`` is ``(text, gate)`` for a question asked at its end; ``rest``
    seconds of quiet and then the ``after`` lines may follow the lines, each of
    those followed by ``step`` seconds of quiet if given (all times scaled by
    ``pace``). ``then``
    is a few words said last, as a ``continue`` gate with no pause: the player
    goes back to the routine there (an acknowledgement of an answer).
    """
    b = _Builder(speech_length, Pacing(pace=pace))
    b.section(title, None)
    if then is None:
        b.cue("checkin")
    b.lines(lines, essential=True)
    if rest:
        b.quiet(rest * pace if step else rest)
        if step:
            for text in after:
                b.say(text, essential=True, gap=step * pace)
        else:
            b.lines(after, essential=True)
    if question is not None:
        b.checkin(*question)
    elif then is not None:
        b._add(EventKind.CHECKIN, b.speech_samples(then), text=then, pause=0,
               gate=Gate.CONTINUE)
    else:
        b.cue("end")
    return b.build(Routine(name, title, ()), Pacing(pace=pace))
