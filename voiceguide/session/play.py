"""Playing a prepared routine: the check-in dialogue at every gate, voice control
between gates, the first-run notice, the daily limit, and the history.
"""

from __future__ import annotations

import functools
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

from voiceguide.session.checkin import (KEY_HELP, Answer, Decision, Inbox, Policy, accepts,
                                        acknowledgement, is_yes_no, key_answer)
from voiceguide.history import ENDINGS
from voiceguide.terminal import wrap
from voiceguide.timing.timeline import Event, EventKind, Gate, Timeline
from voiceguide.trace import trace
from voiceguide.vocabulary import COMMANDS, NO_ANSWER, NUMBERS, STOP

from voiceguide.session.prepare import Prepared

@dataclass
class PlayOptions:
    """How to play: device, check-ins and their wait, keys, status, listening."""

    device: str | None = None
    checkins: bool = True
    checkin_timeout: float = 8.0
    keys: object = None           # a queue of key presses, or None
    status: object = None         # a stream for the status line, or None
    listener: object = None       # a started Listener (voice answers), or None
    reference: object = None      # the ReferenceTap the player feeds the listener's echo canceller
    listen: str = "auto"          # on, off, or auto (when a microphone exists)
    barge_in: bool = True         # hear stop while the guide speaks (echo cancellation)
    intro: bool = False           # play the not-medical-advice notice
    say: Callable[[str], None] = lambda text: None   # print a line for the user
    inbox: Inbox = field(default_factory=Inbox)


def wait_for_answer(player, gate: str, options: PlayOptions) -> Answer | None:
    """The first answer that fits the ``gate`` question, from a key or the inbox
    (voice), or a ``timeout`` non-answer; ``None`` if the user quit meanwhile."""
    inbox = options.inbox
    inbox.clear()
    player.gate_help = KEY_HELP[gate]
    deadline = time.monotonic() + options.checkin_timeout
    while time.monotonic() < deadline:
        for key in player.poll_keys():
            word = key_answer(gate, key)
            if word is not None:
                return Answer(word, "key", time.monotonic())
            if key in "qQ":
                player.finish("quit")
                return None
            if key in "nN" and not is_yes_no(gate):
                return Answer(NO_ANSWER, "key", time.monotonic())   # n: on to the next
        player.update_quiet()
        if player.status is not None:
            player.show_status()
        answer = inbox.wait(min(0.05, deadline - time.monotonic()))
        if answer is not None and accepts(gate, answer.word):
            return answer
    if is_yes_no(gate):
        player.yes_no_closed_at = time.monotonic()   # a late y/n is not "next"
    return Answer(NO_ANSWER, "timeout", time.monotonic())


#: Asked when the recognizer may have heard "stop" but is not sure.
CONFIRM_STOP_QUESTION = "Did you say stop? Say yes to stop, or no to go on."


def confirmation(answer: Answer) -> str:
    """How an answer is confirmed on screen: ``worse (key)``."""
    word = "no answer" if answer.word == NO_ANSWER else answer.word
    return f"{word} ({answer.source})"


class Dialogue:
    """The check-in dialogue at every gate, and voice control between them.

    Waits for the first answer that fits the question, from keys, voice or the
    timeout; records it in the history at once; and follows the
    :class:`~voiceguide.session.checkin.Policy`: stop (for stop and for worse) takes the
    stop path; any other answer is acknowledged in a few words, and the routine
    goes on with the preview of the next exercise.
    """

    def __init__(self, prepared: Prepared, options: PlayOptions, history=None,
                 session: int | None = None):
        self.prepared = prepared
        self.options = options
        self.history = history
        self.session = session
        self.policy = Policy()
        self.resume_at: int | None = None
        self.answers: list[tuple[str, Answer]] = []
        phrases = prepared.library.phrases
        if prepared.pending is not None:  # made in the background, after the routine
            prepared.pending.also(tuple(phrases.acknowledge.values()) + phrases.stop_message +
                                  tuple(line for p in prepared.library.positions.positions.values()
                                        for line in p.rest) + (CONFIRM_STOP_QUESTION,))
        self.paused_at: tuple[Timeline, int] | None = None   # where "Did you say stop?" came

    @functools.cached_property
    def confirm_stop(self) -> Timeline:
        """The question asked when a stop was heard without confidence."""
        return self.prepared.message("confirm-stop", "Did you say stop?", (),
                                     question=(CONFIRM_STOP_QUESTION, Gate.CONFIRM_STOP))

    def ask_confirm_stop(self, player, timeline: Timeline, position: int):
        """Pause where play is and ask "Did you say stop?" (silence is safe)."""
        self.paused_at = (timeline, position)
        if self.history is not None and self.session is not None:
            self.history.checkin(self.session, "(during the routine)", "unsure stop", "voice",
                                 "confirm-stop")
        trace("confirm-stop", position=position)
        return self.confirm_stop, 0

    def record(self, event: Event, answer: Answer) -> None:
        self.answers.append((event.gate, answer))
        if self.history is None or self.session is None:
            return
        section = self.prepared.timeline.sections[event.section].title \
            if event.gate.in_routine else event.gate
        self.history.checkin(self.session, event.text, answer.word, answer.source, section)
        if event.gate.asks_pain and answer.word in NUMBERS:
            self.history.pain(self.session, event.gate, int(answer.word))

    # ------------------------------------------------------------ decisions
    def __call__(self, player, event: Event):
        if event.gate == Gate.CONTINUE:   # the end of an acknowledgement: go on
            return self.prepared.timeline, self.resume_at
        answer = wait_for_answer(player, event.gate, self.options)
        if answer is None:
            return None
        if answer.word == STOP and not answer.sure and event.gate != Gate.CONFIRM_STOP:
            return self.ask_confirm_stop(player, player.timeline, event.start)
        self.record(event, answer)
        player.note(f"{event.text} {confirmation(answer)}")
        if event.gate == Gate.CONFIRM_STOP:
            if answer.word in ("no", "resume") and self.paused_at is not None:
                trace("answer", gate=event.gate, word=answer.word, decision="resume")
                timeline, position = self.paused_at
                return timeline, timeline.line_start(position)
            return self.stop(player, self.routine_sample(player))   # yes, stop, no answer
        decision = self.policy.after(event.gate, answer.word)
        trace("answer", gate=event.gate, word=answer.word, source=answer.source,
              decision=decision)
        if decision == Decision.STOP:
            return self.stop(player, event.start)
        words = acknowledgement(event.gate, answer.word, self.prepared.library.phrases)
        if words is None:
            return None
        self.resume_at = event.end
        return self.prepared.message("ack", "Check-in", (), then=words), 0

    def routine_sample(self, player) -> int:
        """Where in the routine the body is: where play is going while the routine
        plays, else where a "Did you say stop?" paused it, else where an
        acknowledgement goes on."""
        if player.timeline is self.prepared.timeline:
            return player.heading()
        if self.paused_at is not None and self.paused_at[0] is self.prepared.timeline:
            return self.paused_at[1]
        return self.resume_at or 0

    def stop(self, player, sample: int):
        """The stop path: the safety message for the position at routine ``sample``,
        then nothing else."""
        player.ending = "stopped"
        lines = stop_lines(self.prepared, sample)
        trace("stop-path", lines=list(lines))
        return self.prepared.message("stop", "Stopping", lines), 0

    def word(self, player, answer: Answer) -> None:
        """A word heard (or the s key) outside a check-in."""
        trace("word", word=answer.word, source=answer.source)
        if player.ending == "stopped":
            return
        if answer.word == STOP and not answer.sure:
            if player.timeline is not self.confirm_stop:
                player.seek(0, self.ask_confirm_stop(player, player.timeline,
                                                     player.heading())[0])
        elif answer.word == STOP:
            player.hush()          # at once: the stop path takes a moment to prepare
            if self.history is not None and self.session is not None:
                self.history.checkin(self.session, "(during the routine)", STOP,
                                     answer.source, "stop")
            player.seek(0, self.stop(player, self.routine_sample(player))[0])
            player.paused = False  # said while paused, the stop path is still heard
        elif answer.word in COMMANDS:
            player.control(answer.word)


def stop_lines(prepared: Prepared, sample: int) -> tuple[str, ...]:
    """The stop message, with how to rest in the position of the routine at ``sample``."""
    phrases = prepared.library.phrases
    rest = prepared.library.positions.positions[position_at(prepared, sample)].rest
    return phrases.stop_message[:1] + rest + phrases.stop_message[1:]


def position_at(prepared: Prepared, sample: int) -> str:
    """Where the body is at ``sample`` of the routine: the position of the exercise
    playing (until its transition is spoken, that of the exercise before)."""
    timeline, exercises = prepared.timeline, prepared.routine.active_exercises
    if not exercises:
        return "back"
    section = timeline.section_at(sample)
    index = min(max(section - 1, 0), len(exercises) - 1)   # section 0 is the welcome
    if section >= 1 and index > 0 and sample < _moved_at(timeline, section):
        index -= 1
    return exercises[index].technique.position


def _moved_at(timeline: Timeline, section: int) -> int:
    """The first sample after an exercise's check-in and preview (its transition)."""
    events = [e for e in timeline.events if e.section == section]
    checkins = [e for e in events if e.kind == EventKind.CHECKIN]
    if not checkins:
        return timeline.sections[section].start
    after = [e for e in events if e.start >= checkins[0].end and e.kind == EventKind.SPEECH]
    return after[1].start if len(after) > 1 else checkins[0].end


def _quiet_listener(listener):
    """An ``on_quiet`` that tells the microphone when the player sounds: only "stop"
    counts then (or, without echo cancellation, nothing)."""
    if listener is None:
        return None

    def on_quiet(quiet: bool) -> None:
        (listener.unmute if quiet else listener.mute)()

    return on_quiet


def _player(prepared: Prepared, timeline: Timeline, options: PlayOptions, on_gate,
            on_word=None):
    from voiceguide.session.player import Player

    return Player(timeline, prepared.preloaded_renderer, device=options.device,
                  checkins=on_gate is not None, on_gate=on_gate, keys=options.keys,
                  status=options.status, inbox=options.inbox if on_word else None,
                  on_word=on_word, on_quiet=_quiet_listener(options.listener),
                  pending=prepared.pending, reference=options.reference)


def preroll(prepared: Prepared, options: PlayOptions, history) -> bool:
    """The first-run notice and the daily limit; False when the user does not go on."""
    phrases = prepared.library.phrases
    if options.intro:
        options.say(wrap(" ".join(phrases.intro), sys.stderr))
        _player(prepared, prepared.message("intro", "Before you begin", phrases.intro),
                options, None).run()
        history.set_meta("intro_heard", time.strftime("%Y-%m-%d %H:%M:%S"))
    if history.sessions_today() < 2:
        return True
    options.say(" ".join(phrases.daily_limit) + " " + phrases.daily_limit_question +
                " (y yes, n no)")
    chosen = []

    def gate(player, event):
        answer = wait_for_answer(player, event.gate, options)
        chosen.append(answer.word if answer else NO_ANSWER)
        return None

    question = prepared.message("daily-limit", "Daily limit", phrases.daily_limit,
                                question=(phrases.daily_limit_question, Gate.DAILY_LIMIT))
    _player(prepared, question, options, gate).run()
    return bool(chosen) and chosen[0] == "yes"


def play(prepared: Prepared, options: PlayOptions, history=None) -> str:
    """Play the routine and record the session; return how it ended.

    With check-ins on, the first-run notice and the daily-limit question come
    first; ``not-started`` when the user does not go on.
    """
    if options.checkins and history is not None and not preroll(prepared, options, history):
        return "not-started"
    session = history.start(prepared.routine.name, prepared.routine.title,
                            prepared.pacing.as_dict()) if history is not None else None
    ending = "interrupted"
    try:
        if options.checkins:
            dialogue = Dialogue(prepared, options, history, session)
            player = _player(prepared, prepared.timeline, options, dialogue, dialogue.word)
        else:
            player = _player(prepared, prepared.timeline, options, None)
        ending = player.run()
    finally:
        if session is not None:
            history.end(session, ending if ending in ENDINGS else "interrupted")
    return ending


def play_session(prepared: Prepared, options: PlayOptions, intro: str = "first",
                 history=None) -> str:
    """Play with everything around it: the history, the microphone, the intro.

    ``intro`` is the setting (``first``, ``always``, ``never``) or ``again``
    (``--intro``). Returns how the session ended, or ``not-started``.
    """
    from voiceguide.history import History

    history = history or History()
    for warning in history.warnings:
        options.say(f"voiceguide: {warning}")
    if options.checkins:
        options.intro = intro in ("always", "again") or (
            intro == "first" and history.get_meta("intro_heard") is None)
    listener = start_listening(options) if options.checkins else None
    options.listener = listener
    try:
        return play(prepared, options, history)
    finally:
        if listener is not None:
            listener.stop()
        history.close()


def start_listening(options: PlayOptions):
    """A muted, started :class:`~voiceguide.hearing.listener.Listener` feeding the inbox.

    ``auto`` listens when a microphone exists; ``on`` insists on one. With
    ``barge_in``, the players get a reference tap (``options.reference``) for
    the listener's echo canceller, so "stop" is heard while the guide speaks.
    """
    if options.listen == "off":
        return None
    from voiceguide.hearing import echo
    from voiceguide.hearing.listener import Listener, input_available
    from voiceguide.hearing.recognizer import warm_up

    if options.listen == "auto" and not input_available():
        return None
    options.reference = echo.ReferenceTap() if options.barge_in and echo.available() else None
    if options.barge_in and options.reference is None:
        options.say("Stop is heard only in the guide's pauses: hearing it while the guide "
                    "speaks needs the speexdsp library (libspeexdsp1). The s key works "
                    "at any moment.")
    if options.reference is None:   # with barge-in, the recognizer's own process warms up
        warm_up()
    listener = Listener(lambda answer: options.inbox.put(answer.word, "voice", answer.sure),
                        reference=options.reference)
    listener.start()
    listener.mute()  # the player speaks first
    return listener
