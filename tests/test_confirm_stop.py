"""Unsure is a pause: a stop the recognizer only guessed asks "Did you say stop?".

The dialogue and the player are real (real speech, real SQLite history); no
stream is opened, so the player's playhead is set by hand. The unsure stop is
put in the inbox as the listener puts it (``sure=False`` is what
``recognizer.Answer.sure`` gives for a guessed stop).
"""

from __future__ import annotations

import threading
import time

import numpy as np

from voiceguide import history as log
from voiceguide.session import play as session
from voiceguide.session import prepare as preparing
from voiceguide.session.checkin import Answer
from voiceguide.session.dialogue import Dialogue
from voiceguide.session.player import Player
from voiceguide.timing.timeline import SAMPLE_RATE


def _setup(two):
    prepared = preparing.prepare_named(str(two), {})
    history = log.History()
    sid = history.start(prepared.routine.name, prepared.routine.title, prepared.pacing.as_dict())
    options = session.PlayOptions(checkin_timeout=1.0)
    dialogue = Dialogue(prepared, options.inbox, options.checkin_timeout, history, sid)
    player = Player(prepared.timeline, prepared.preloaded_renderer, guide=dialogue)
    player.output._commands.clear()       # no callback runs: the first seek is taken as done
    player.output.position = 5 * SAMPLE_RATE
    return prepared, history, sid, options, dialogue, player


def _question(dialogue):
    return next(e for e in dialogue.confirm_stop.events if e.gate == "confirm-stop")


def test_unsure_stop_asks_and_no_resumes_from_the_start_of_the_line(two):
    """Paused 5 s in, in the middle of a spoken line: "no" goes on from the start
    of that line, so the person hears the whole sentence."""
    prepared, history, sid, options, dialogue, player = _setup(two)
    line = prepared.timeline.events[prepared.timeline.event_index_at(5 * SAMPLE_RATE)]
    assert line.kind == "speech" and line.start < 5 * SAMPLE_RATE
    try:
        dialogue.heard(player, Answer("stop", "voice", time.monotonic(), sure=False))
        assert player.timeline is dialogue.confirm_stop      # the routine's sound is gone
        assert "Did you say stop?" in _question(dialogue).text
        # answered after the question (the inbox is emptied when it is asked)
        threading.Timer(0.2, options.inbox.put, ("no", "voice")).start()
        assert dialogue.at_gate(player, _question(dialogue)) == (prepared.timeline, line.start)
        assert player.ending == "completed"
        rows = [(c["answer"], c["source"]) for c in history.sessions()[0].checkins]
        assert rows == [("unsure stop", "voice"), ("no", "voice")]
    finally:
        history.close()


def test_go_on_after_a_pause_in_quiet_resumes_at_the_same_sample(two):
    """In a cue or quiet (a hold) play goes on exactly where it paused: the hold
    keeps its time."""
    prepared, history, sid, options, dialogue, player = _setup(two)
    timeline = prepared.timeline
    quiet = next(e for e in timeline.events if e.kind == "silence" and e.length > 1000)
    player.output.position = quiet.start + quiet.length // 2
    try:
        dialogue.heard(player, Answer("stop", "voice", time.monotonic(), sure=False))
        threading.Timer(0.2, options.inbox.put, ("resume", "voice")).start()
        assert dialogue.at_gate(player, _question(dialogue)) == (timeline, player.position)
    finally:
        history.close()


def test_unsure_stop_with_no_answer_stops(two):
    prepared, history, sid, options, dialogue, player = _setup(two)
    try:
        dialogue.heard(player, Answer("stop", "voice", time.monotonic(), sure=False))
        timeline, position = dialogue.at_gate(player, _question(dialogue))
        assert timeline.routine == "stop" and player.ending == "stopped"   # the stop path
        rows = [(c["answer"], c["source"]) for c in history.sessions()[0].checkins]
        assert rows == [("unsure stop", "voice"), ("none", "timeout")]
    finally:
        history.close()


def test_a_sure_stop_stops_at_once(two):
    prepared, history, sid, options, dialogue, player = _setup(two)
    try:
        dialogue.heard(player, Answer("stop", "voice", time.monotonic()))
        assert player.timeline.routine == "stop" and player.ending == "stopped"
    finally:
        history.close()


def test_the_sound_stops_before_the_stop_path_is_prepared(two, monkeypatch):
    """The stop path is made when stop is heard (its words name the position), and
    on a busy machine that took 1.7 s, the routine playing on meanwhile. The
    sound stops first: a block the callback fills while the stop path is being
    made is silent, where the routine is speaking."""
    prepared, history, sid, options, dialogue, player = _setup(two)
    made = dialogue.stop
    blocks = []

    def stop_while_the_callback_runs(player, sample):
        block = np.zeros(1024, np.float32)
        player.output._fill(block, len(block))     # as the audio callback would, meanwhile
        blocks.append(block)
        return made(player, sample)

    monkeypatch.setattr(dialogue, "stop", stop_while_the_callback_runs)
    try:
        player.seek(player.position)           # the routine, 5 s in, as the callback plays it
        loud = np.zeros(1024, np.float32)
        player.output._fill(loud, len(loud))
        assert np.abs(loud).max() > 0.01       # the routine speaks here
        dialogue.heard(player, Answer("stop", "voice", time.monotonic()))
        assert blocks and not blocks[0].any()
        assert player.timeline.routine == "stop"
    finally:
        history.close()


def test_a_stop_said_while_paused_plays_the_stop_path(two):
    prepared, history, sid, options, dialogue, player = _setup(two)
    try:
        player.control("pause")
        dialogue.heard(player, Answer("stop", "key", time.monotonic()))
        assert player.timeline.routine == "stop" and not player.paused
    finally:
        history.close()
