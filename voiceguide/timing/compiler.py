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

import re

from voiceguide.routine.model import Breath, Cycle, Exercise, Flow, Hold, Kept, Phrases, Positions, Routine
from voiceguide.routine.pacing import Pacing
from voiceguide.timing import framing
from voiceguide.timing.builder import LINE_GAP, Builder, Item, SpeechLength, estimated_speech
from voiceguide.timing.dosing import breath_phases, hold_seconds, rest_seconds, rounds
from voiceguide.timing.timeline import (CUE_SECONDS, Audience, EventKind, Gate, HoldSpan,
                                        Timeline, samples)

__all__ = ["SpeechLength", "compile_message", "compile_routine", "estimated_speech",
           "spoken_duration"]

REP_REST = 5.0          # seconds between repeated holds


def spoken_duration(secs: int) -> str:
    """``25 seconds``, ``1 minute``, ``2 minutes and 30 seconds``."""
    if secs < 90 and secs % 60:
        return f"{secs} seconds"
    minutes, rest = divmod(secs, 60)
    text = f"{minutes} minute" + ("s" if minutes != 1 else "")
    return text + (f" and {rest} seconds" if rest else "")


def _norm(text: str) -> str:
    return re.sub(r"[^a-z ]", "", text.lower()).strip()


def compile_routine(routine: Routine, pacing: Pacing, speech_length: SpeechLength,
                    phrases: Phrases, positions: Positions,
                    audience: Audience = Audience.PLAY) -> Timeline:
    """Compile a routine into a timeline for ``audience``.

    ``play`` asks its check-in questions at gates; ``export`` (a file, and play
    without check-ins) opens with the spoken notice that it is not medical advice
    and cannot hear, and rests where play asks (see :mod:`.framing`). Every routine
    starts standing (:data:`~.framing.START_POSITION`); before the first exercise and
    between exercises in different positions the moves of :meth:`Positions.path`
    are spoken, with quiet to do them.
    """
    b = Builder(speech_length, pacing)
    b.position = framing.START_POSITION
    here = framing.opening(b, routine, pacing, phrases, positions, audience)
    said: set[str] = set()
    exercises = routine.active_exercises
    holding: Kept | None = None
    for index, exercise in enumerate(exercises):
        there = exercise.technique.position
        _arrive(b, index, exercise, here, pacing, phrases, positions, audience)
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
    framing.closing(b, here, phrases, positions, audience)
    return b.build(routine, pacing)


def _kept_into(exercise: Exercise, following) -> Kept | None:
    """The engagement ``exercise`` keeps going into the next (``following``: it,
    or nothing), when that is one it protects; else ``None``."""
    kept = exercise.technique.kept
    if kept is None or not following or following[0].technique.id not in kept.into:
        return None
    return kept


def _release(b: Builder, technique, phrases: Phrases, keep: Kept | None = None) -> None:
    """The way out of ``technique``, or the words that keep its engagement (``keep``)."""
    b.lines(keep.say if keep is not None else technique.release or phrases.release)


def _arrive(b: Builder, index: int, exercise: Exercise, here: str, pacing: Pacing,
            phrases: Phrases, positions: Positions, audience: Audience) -> None:
    """The start of an exercise's section: its name (after the check-in spot
    between exercises, from the second on) and the way from position ``here`` to
    its own."""
    technique = exercise.technique
    b.section(technique.title, technique.id)
    there = technique.position
    if index == 0:
        b.say(phrases.first_exercise.format(title=technique.title),
              gap=LINE_GAP * pacing.pace)
        if there != framing.START_POSITION:
            b.say(phrases.eyes_open, gap=LINE_GAP * pacing.pace)
        _transition(b, positions, framing.START_POSITION, there, pacing)
        return
    framing.spot(b, phrases, Gate.BETWEEN, audience)
    b.say(phrases.preview.format(title=technique.title,
                                 position=positions.positions[there].name),
          gap=LINE_GAP * pacing.pace)
    if there != here:
        _transition(b, positions, here, there, pacing)


def _transition(b: Builder, positions: Positions, start: str, end: str,
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


def _exercise(b: Builder, exercise: Exercise, pacing: Pacing, phrases: Phrases,
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

    def __init__(self, b: Builder, total: int):
        self.b, self.total = b, total
        self.items: list[Item] = []
        self.taken: list[tuple[int, int]] = []

    def length(self, item: Item) -> int:
        return (self.b.speech_samples(item.text) if item.text is not None
                else samples(CUE_SECONDS[item.cue]))

    def fixed(self, item: Item) -> None:
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
                self.fixed(Item(offset, text))
                return offset + length
            offset = max(clash) + margin
        return None


def _timed_items(b: Builder, technique, reminders, total: int, phrases: Phrases,
                 start_phrase: str) -> list[Item]:
    """Start cue, the form cue, one breathing reminder (15 s or more), reminders
    spread evenly, time left, and the 3-2-1 countdown."""
    slots = _Slots(b, samples(total))
    if not b.full:
        _ticks(slots, b, total, phrases)
        return slots.items
    _fixed_words(slots, b, total, phrases, start_phrase)
    _reminders(slots, technique.form, reminders, total, phrases)
    return slots.items


def _ticks(slots: _Slots, b: Builder, total: int, phrases: Phrases) -> None:
    """Cues-only guidance: a tick at the start, and one per word of the countdown."""
    slots.fixed(Item(0, cue="tick"))
    if b.pacing.countdown and total >= 8:
        for i in range(len(phrases.countdown)):
            slots.fixed(Item(samples(total - len(phrases.countdown) + i), cue="tick"))


def _fixed_words(slots: _Slots, b: Builder, total: int, phrases: Phrases,
                 start_phrase: str) -> None:
    """The words at fixed times: the start (short when the long one takes more than
    half the window), the countdown, and the time left."""
    first = Item(0, start_phrase.format(duration=spoken_duration(total)))
    short = b.speech_samples(first.text) > samples(total) // 2
    slots.fixed(Item(0, phrases.hold_start_short) if short else first)
    if b.pacing.countdown and total >= 8:
        for i, word in enumerate(phrases.countdown):
            slots.fixed(Item(samples(total - len(phrases.countdown) + i), word))
    if total >= 20:
        slots.fixed(Item(samples(total - 10), phrases.ten_left))
    if total >= 60:
        slots.fixed(Item(samples(total - 30), phrases.thirty_left))


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


def _hold(b: Builder, exercise: Exercise, movement: Hold, pacing: Pacing,
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


def _breath(b: Builder, movement: Breath, count: int, pacing: Pacing,
            phrases: Phrases) -> None:
    phase = breath_phases(pacing)
    tone = samples(CUE_SECONDS["inhale"])
    hold = Item(0, phrases.breath_hold) if b.full else Item(0, cue="tick")
    for number in range(1, count + 1):
        if number <= 2:
            inhale, exhale = movement.inhale, movement.exhale
        else:
            inhale = phrases.last_round if number == count else \
                phrases.breath_count.format(n=number)
            exhale = None
        b.window(phase[0], [Item(0, cue="inhale"), Item(tone, inhale)])
        b.window(phase[1], [hold])
        b.window(phase[2], [Item(0, cue="exhale")] + ([Item(tone, exhale)] if exhale else []))
        b.window(phase[3], [hold])


def _cycle(b: Builder, movement: Cycle, count: int, pacing: Pacing,
           phrases: Phrases) -> None:
    for number in range(1, count + 1):
        if count > 1:
            b.say(phrases.round_of.format(n=number, total=count), gap=0.3)
        for step in movement.steps:
            mark = Item(0, step.say) if b.full else Item(0, cue="tick")
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
    b = Builder(speech_length, Pacing(pace=pace))
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
