"""Playing a prepared routine: the first-run notice, the daily limit, the
routine with its dialogue, and the session in the history.

:func:`play_session` is the whole of ``voiceguide play`` once the routine is
prepared: the history, the microphone (:func:`start_listening`) and
:func:`play`, which plays the notice and asks the daily-limit question first
(:func:`preroll`), then plays the routine through a
:class:`~voiceguide.session.player.Player` whose guide is the check-in
:class:`~voiceguide.session.dialogue.Dialogue`.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Callable

from voiceguide.history import ENDINGS, History
from voiceguide.session.checkin import Inbox
from voiceguide.session.dialogue import Dialogue, Questions
from voiceguide.session.player import Player
from voiceguide.session.prepare import Prepared
from voiceguide.terminal import wrap
from voiceguide.timing.timeline import Gate, Timeline
from voiceguide.vocabulary import YES


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

    @property
    def can_answer(self) -> bool:
        """True when the person can answer: keys are read, or a microphone listens."""
        return self.keys is not None or self.listener is not None


def _quiet_listener(listener):
    """An ``on_quiet`` that tells the microphone when the player sounds: only "stop"
    counts then (or, without echo cancellation, nothing)."""
    if listener is None:
        return None

    def on_quiet(quiet: bool) -> None:
        (listener.unmute if quiet else listener.mute)()

    return on_quiet


def _player(prepared: Prepared, timeline: Timeline, options: PlayOptions,
            guide=None) -> Player:
    """A player of ``timeline``; with a ``guide`` (a dialogue), it stops at the gates."""
    return Player(timeline, prepared.preloaded_renderer, device=options.device,
                  guide=guide, keys=options.keys, status=options.status,
                  on_quiet=_quiet_listener(options.listener), pending=prepared.pending,
                  reference=options.reference)


def preroll(prepared: Prepared, options: PlayOptions, history) -> bool:
    """The first-run notice and the daily limit; False when the user does not go on."""
    phrases = prepared.library.phrases
    if options.intro:
        options.say(wrap(" ".join(phrases.intro), sys.stderr))
        _player(prepared, prepared.message("intro", "Before you begin", phrases.intro),
                options).run()
        history.set_meta("intro_heard", time.strftime("%Y-%m-%d %H:%M:%S"))
    if history.sessions_today() < 2:
        return True
    options.say(" ".join(phrases.daily_limit) + " " + phrases.daily_limit_question +
                " (y yes, n no)")
    question = prepared.message("daily-limit", "Daily limit", phrases.daily_limit,
                                question=(phrases.daily_limit_question, Gate.DAILY_LIMIT))
    questions = Questions(options.inbox, options.checkin_timeout)
    _player(prepared, question, options, questions).run()
    return bool(questions.answers) and questions.answers[0][1].word == YES


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
            dialogue = Dialogue(prepared, options.inbox, options.checkin_timeout, history,
                                session, can_answer=options.can_answer)
            player = _player(prepared, prepared.timeline, options, dialogue)
        else:
            player = _player(prepared, prepared.timeline, options)
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
    listener = Listener(options.inbox.hear, reference=options.reference)
    listener.start()
    listener.mute()  # the player speaks first
    return listener
