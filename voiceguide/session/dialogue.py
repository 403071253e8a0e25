"""The check-in dialogue at every gate, and voice control between gates.

The player (:mod:`voiceguide.session.player`) plays, and stops at each check-in
gate; the dialogue decides what follows. It waits for the answer that fits the
question, records it, follows the :class:`~voiceguide.session.checkin.Policy`,
and takes the stop path, with how to rest in the position the body is in;
when the recognizer only thinks it heard stop, it asks "Did you say stop?".

The two meet through narrow ports. The dialogue asks the player through
:class:`Stage` (where play is, play a timeline from a sample, hush, resume, a
spoken command, a line on screen, the keys pressed, how play ends) and takes
voice answers from an :class:`~voiceguide.session.checkin.Inbox`. The player
calls the dialogue through three methods (its
:class:`~voiceguide.session.player.Guide`): a key pressed, a moment to take up
what was heard, a gate reached. What a key means at or around a question is
decided here and in :mod:`voiceguide.session.checkin`, never in the player.

:class:`Questions` answers questions on their own (the daily limit's);
:class:`Dialogue` is the routine's whole dialogue.
"""

from __future__ import annotations

import functools
import time
from typing import Protocol

from voiceguide.session.checkin import (KEEP, KEY_HELP, QUIT, Answer, Decision, Inbox,
                                        KeyRules, Policy, accepts, acknowledgement,
                                        gate_key, pain_rose)
from voiceguide.session.prepare import Prepared
from voiceguide.session.stop_path import REST_SECONDS, STEP_SECONDS, StopPath, stop_path
from voiceguide.timing.timeline import Event, Gate, Timeline
from voiceguide.trace import trace
from voiceguide.vocabulary import COMMANDS, NO, NO_ANSWER, NUMBERS, STOP

#: Asked when the recognizer may have heard "stop" but is not sure.
CONFIRM_STOP_QUESTION = "Did you say stop? Say yes to stop, or no to go on."

#: How play ends after the stop path (an ending of :data:`voiceguide.history.ENDINGS`).
STOPPED = "stopped"
#: How play ends when the first pain score is too strong to start.
NOT_TODAY = "not-today"


class Stage(Protocol):
    """What the dialogue asks of the player (a
    :class:`~voiceguide.session.player.Player` is one)."""

    #: How play ends: ``completed`` unless told otherwise (``stopped``).
    ending: str

    def where(self) -> tuple[Timeline, int]:
        """The timeline playing, and where in it play is going."""

    def seek(self, sample: int, timeline: Timeline | None = None) -> None:
        """Play from ``sample`` (of ``timeline``, when given, instead of what plays)."""

    def hush(self) -> None:
        """Silence at once, until the next seek."""

    def resume(self) -> None:
        """Go on if paused."""

    def control(self, word: str) -> None:
        """A spoken command: ``pause``, ``resume``, ``next`` or ``repeat``."""

    def note(self, text: str) -> None:
        """A line on screen, above the status line."""

    def ask(self, keys: str) -> None:
        """Show ``keys``, those that answer the open question, on the status line."""

    def keep(self, key: str) -> None:
        """Hold ``key`` for the question being asked, until its gate opens."""

    def poll_keys(self) -> list[str]:
        """The keys pressed since the last poll (first those held by :meth:`keep`)."""

    def tick(self) -> None:
        """A moment at a gate: the microphone told when play is quiet, the status line drawn."""

    def finish(self, ending: str) -> None:
        """End play at once, with ``ending``."""


class Questions:
    """The questions at a player's gates, each on its own (the daily limit's).

    At each gate: the first answer that fits the question, from a key or the
    ``inbox`` (voice), or after ``timeout`` seconds no answer; kept in
    :attr:`answers`, and play goes on. Around a question the keys follow
    :class:`~voiceguide.session.checkin.KeyRules`; ``s`` is an answer to the
    question being asked, and words heard between gates do not count.
    """

    def __init__(self, inbox: Inbox, timeout: float):
        self.inbox = inbox
        self.timeout = timeout
        self.key_rules = KeyRules()
        self.answers: list[tuple[Gate, Answer]] = []

    # -------------------------------------------------- what the player calls
    def key(self, stage: Stage, key: str, asking: Gate | None,
            control: str | None) -> str | None:
        """A key pressed while no gate is open, ``asking`` the question whose chime
        or words play, ``control`` what it does to play otherwise; returns the
        control word for the player to do, if any."""
        meaning = self.key_rules.around(key, asking, control)
        if meaning == STOP:
            meaning = self.stop_key(stage, asking)
        if meaning == KEEP:
            stage.keep(key)
            return None
        return meaning

    def stop_key(self, stage: Stage, asking: Gate | None) -> str | None:
        """What ``s`` does while no gate is open: here an answer to the question
        being asked (:data:`~voiceguide.session.checkin.KEEP`), or nothing."""
        return KEEP if asking is not None else None

    def listen(self, stage: Stage) -> None:
        """What was heard between gates (nothing counts here)."""

    def at_gate(self, stage: Stage, event: Event) -> tuple[Timeline, int] | None:
        """The answer to the question of ``event``; ``None``: play goes on after it."""
        answer = self.wait_for_answer(stage, event.gate)
        if answer is not None:
            self.answers.append((event.gate, answer))
        return None

    # ------------------------------------------------------------ the waiting
    def wait_for_answer(self, stage: Stage, gate: Gate) -> Answer | None:
        """The first answer that fits the ``gate`` question, from a key or the inbox
        (voice), or a ``timeout`` non-answer; ``None`` if the user quit meanwhile."""
        self.inbox.clear()
        stage.ask(KEY_HELP[gate])
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for key in stage.poll_keys():
                word = gate_key(gate, key)
                if word == QUIT:
                    stage.finish("quit")
                    return None
                if word is not None:
                    return Answer(word, "key", time.monotonic())
            stage.tick()
            answer = self.inbox.wait(min(0.05, deadline - time.monotonic()))
            if answer is not None and accepts(gate, answer.word):
                return answer
        self.key_rules.timed_out(gate)   # a late y/n is not "next"
        return Answer(NO_ANSWER, "timeout", time.monotonic())


def confirmation(answer: Answer) -> str:
    """How an answer is confirmed on screen: ``worse (key)``."""
    word = "no answer" if answer.word == NO_ANSWER else answer.word
    return f"{word} ({answer.source})"


class Dialogue(Questions):
    """The check-in dialogue at every gate, and voice control between them.

    Waits for the first answer that fits the question, from keys, voice or the
    timeout; records it in the history at once; and follows the
    :class:`~voiceguide.session.checkin.Policy`: stop (for stop and for worse) takes the
    stop path; any other answer is acknowledged in a few words, and the routine
    goes on with the preview of the next exercise (a last pain score above the
    first is answered with what the sources advise, in place of the closing's own
    lines). Between gates, ``s`` and a
    spoken stop take the stop path, a stop the recognizer is not sure of asks
    "Did you say stop?", and the spoken commands steer play. ``can_answer`` says
    whether anyone can answer at all (keys or a microphone): only then does a
    third silence in a row pause play to wait.
    """

    def __init__(self, prepared: Prepared, inbox: Inbox, timeout: float, history=None,
                 session: int | None = None, can_answer: bool = True):
        super().__init__(inbox, timeout)
        self.prepared = prepared
        self.history = history
        self.session = session
        self.policy = Policy()
        self.resume_at: int | None = None
        if prepared.pending is not None:  # made in the background, after the routine
            prepared.pending.also(_said_off_the_routine(prepared))
        self.can_answer = can_answer
        self.silences = 0            # check-ins in a row that got no answer
        self.wait_after_words = False   # pause once the acknowledgement is said
        self.paused_at: tuple[Timeline, int] | None = None   # where "Did you say stop?" came

    @functools.cached_property
    def confirm_stop(self) -> Timeline:
        """The question asked when a stop was heard without confidence."""
        return self.prepared.message("confirm-stop", "Did you say stop?", (),
                                     question=(CONFIRM_STOP_QUESTION, Gate.CONFIRM_STOP))

    # -------------------------------------------------- what the player calls
    def stop_key(self, stage: Stage, asking: Gate | None) -> str | None:
        """``s`` stops at any moment (as a sure stop heard)."""
        self.heard(stage, Answer(STOP, "key", time.monotonic()))
        return None

    def listen(self, stage: Stage) -> None:
        """Every word heard since the last look, as :meth:`heard`."""
        while (answer := self.inbox.poll()) is not None:
            self.heard(stage, answer)

    def at_gate(self, stage: Stage, event: Event) -> tuple[Timeline, int] | None:
        """What follows the question of ``event``: ``(timeline, position)`` to play
        next (an acknowledgement, "Did you say stop?", the stop path, or back to
        the routine), ``None`` to go on after it."""
        if event.gate == Gate.CONTINUE:   # the end of an acknowledgement: go on
            if self.wait_after_words:     # a third silence: wait for the person
                self.wait_after_words = False
                stage.control("pause")
            return self.prepared.timeline, self.resume_at
        answer = self.wait_for_answer(stage, event.gate)
        if answer is None:
            return None
        if answer.word == STOP and not answer.sure and event.gate != Gate.CONFIRM_STOP:
            return self.ask_confirm_stop(stage.where()[0], event.start)
        self.record(event, answer)
        stage.note(f"{event.text} {confirmation(answer)}")
        if event.gate == Gate.CONFIRM_STOP:
            return self.confirmed(stage, answer)
        decision = self.policy.after(event.gate, answer.word)
        trace("answer", gate=event.gate, word=answer.word, source=answer.source,
              decision=decision)
        if decision == Decision.STOP:
            return self.stop(stage, event.start)
        if decision == Decision.NOT_TODAY:
            return self.not_today(stage)
        if pain_rose(self.first_pain(), event.gate, answer.word):
            return self.pain_rose_closing(event)
        words = self.words_after(event.gate, answer.word)
        if words is None:
            return None
        self.resume_at = event.end
        return self.prepared.message("ack", "Check-in", (), then=words), 0

    def heard(self, stage: Stage, answer: Answer) -> None:
        """A word heard (or the s key) outside a check-in."""
        trace("word", word=answer.word, source=answer.source)
        if stage.ending == STOPPED:
            return
        if answer.word == STOP and not answer.sure:
            timeline, heading = stage.where()
            if timeline is not self.confirm_stop:
                stage.seek(0, self.ask_confirm_stop(timeline, heading)[0])
        elif answer.word == STOP:
            stage.hush()          # at once: the stop path takes a moment to prepare
            if self.history is not None and self.session is not None:
                self.history.checkin(self.session, "(during the routine)", STOP,
                                     answer.source, "stop")
            stage.seek(0, self.stop(stage, self.routine_sample(stage))[0])
            stage.resume()        # said while paused, the stop path is still heard
        elif answer.word in COMMANDS:
            stage.control(answer.word)

    # ------------------------------------------------------------ decisions
    def words_after(self, gate: Gate, word: str) -> str | None:
        """The acknowledgement of an answer that goes on. Where someone can answer,
        no answer twice in a row asks whether the person is all right; a third time
        the guide says it will wait, and pauses (:meth:`at_gate`, at the
        acknowledgement's end)."""
        phrases = self.prepared.library.phrases
        if gate.in_routine:
            self.silences = self.silences + 1 if word == NO_ANSWER else 0
        if word != NO_ANSWER or not self.can_answer:   # nobody can answer: go on
            return acknowledgement(gate, word, phrases)
        if self.silences == 2:
            return phrases.are_you_ok
        if self.silences >= 3:
            self.wait_after_words = True
            return phrases.waiting
        return acknowledgement(gate, word, phrases)

    def not_today(self, stage: Stage) -> tuple[Timeline, int]:
        """A first pain score too strong to start: why there is no exercise today and
        what to do instead, then nothing else (the body has not been led down)."""
        stage.ending = NOT_TODAY
        lines = self.prepared.library.phrases.not_today
        trace("not-today", lines=list(lines))
        return self.prepared.message("not-today", "Not today", lines), 0

    def ask_confirm_stop(self, timeline: Timeline, position: int) -> tuple[Timeline, int]:
        """Pause where play is (``position`` of ``timeline``) and ask "Did you say
        stop?" (silence is safe)."""
        self.paused_at = (timeline, position)
        if self.history is not None and self.session is not None:
            self.history.checkin(self.session, "(during the routine)", "unsure stop", "voice",
                                 "confirm-stop")
        trace("confirm-stop", position=position)
        return self.confirm_stop, 0

    def confirmed(self, stage: Stage, answer: Answer) -> tuple[Timeline, int]:
        """After "Did you say stop?": no (or resume) goes on from the start of the
        line it paused in; yes, stop or no answer take the stop path."""
        if answer.word in (NO, "resume") and self.paused_at is not None:
            trace("answer", gate=Gate.CONFIRM_STOP, word=answer.word, decision="resume")
            timeline, position = self.paused_at
            return timeline, timeline.line_start(position)
        return self.stop(stage, self.routine_sample(stage))

    def record(self, event: Event, answer: Answer) -> None:
        """Keep the answer to the question of ``event``, and write it in the history."""
        self.answers.append((event.gate, answer))
        if self.history is None or self.session is None:
            return
        section = self.prepared.timeline.sections[event.section].title \
            if event.gate.in_routine else event.gate
        self.history.checkin(self.session, event.text, answer.word, answer.source, section)
        if event.gate.asks_pain and answer.word in NUMBERS:
            self.history.pain(self.session, event.gate, int(answer.word))

    def first_pain(self) -> str | None:
        """The first pain score answered (at the baseline question), if any."""
        return next((answer.word for gate, answer in self.answers
                     if gate == Gate.BASELINE and answer.word in NUMBERS), None)

    def pain_rose_closing(self, event: Event) -> tuple[Timeline, int]:
        """After the final question of ``event``, answered higher than the first: the
        pain went up and what to do, in place of the closing's own lines (never
        "Well done."); then the routine goes on with the finish after them."""
        phrases = self.prepared.library.phrases
        timeline = self.prepared.timeline
        own = [e for e in timeline.events
               if e.section == event.section and e.start >= event.end and e.text in phrases.closing]
        self.resume_at = own[-1].end if own else event.end
        return self.prepared.message("ack", "Check-in", phrases.pain_rose[:-1],
                                     then=phrases.pain_rose[-1]), 0

    def routine_sample(self, stage: Stage) -> int:
        """Where in the routine the body is: where play is going while the routine
        plays, else where a "Did you say stop?" paused it, else where an
        acknowledgement goes on."""
        timeline, heading = stage.where()
        if timeline is self.prepared.timeline:
            return heading
        if self.paused_at is not None and self.paused_at[0] is self.prepared.timeline:
            return self.paused_at[1]
        return self.resume_at or 0

    def stop(self, stage: Stage, sample: int) -> tuple[Timeline, int]:
        """The stop path: the safety message for the position at routine ``sample``,
        then nothing else."""
        stage.ending = STOPPED
        path = stop_path_at(self.prepared, sample)
        trace("stop-path", lines=list(path.said), position=path.position)
        return self.prepared.message("stop", "Stopping", path.lines, rest=REST_SECONDS,
                                     after=path.steps, step=STEP_SECONDS), 0


def _said_off_the_routine(prepared: Prepared) -> tuple[str, ...]:
    """What the dialogue may say besides the routine: acknowledgements, the stop path
    from any position, the not-today lines and "Did you say stop?"."""
    phrases = prepared.library.phrases
    places = prepared.library.positions.positions.values()
    return (tuple(phrases.acknowledge.values()) + phrases.stop_message
            + (phrases.stop_ease, phrases.stop_still, phrases.stop_rest, phrases.stop_get_up)
            + phrases.stop_help + tuple(line for p in places for line in p.rest + p.finish)
            + phrases.not_today + (phrases.are_you_ok, phrases.waiting, CONFIRM_STOP_QUESTION))


def stop_path_at(prepared: Prepared, sample: int) -> StopPath:
    """The stop path for the routine stopped at ``sample`` (see :mod:`.stop_path`)."""
    library = prepared.library
    return stop_path(prepared.timeline, sample, library.phrases, library.positions)
