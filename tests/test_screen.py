"""The screen and the keys: a status line that never wraps, the question in
words, and one meaning per key (``n`` is next, except at an open yes/no question)."""

from __future__ import annotations

import dataclasses
import fcntl
import io
import os
import pty
import queue
import re
import shutil
import struct
import subprocess
import termios
import time

import pytest

from tests.support.cli import voiceguide_command
from voiceguide import catalog
from voiceguide.timing.compiler import compile_message, compile_routine, estimated_speech
from voiceguide.routine.pacing import Pacing
from voiceguide.audio.output import CONTINUE
from voiceguide.session.checkin import Inbox
from voiceguide.session.dialogue import Questions
from voiceguide.session.player import Player
from voiceguide.terminal import ELLIPSIS, StatusLine, fit, wrap
from voiceguide.timing.timeline import SAMPLE_RATE


def _pty(columns: int):
    """A pseudo-terminal ``columns`` wide: (master fd, slave file)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    return master, os.fdopen(slave, "w", encoding="utf-8")


def _resize(stream, columns: int) -> None:
    fcntl.ioctl(stream.fileno(), termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))


def test_fit_cuts_with_an_ellipsis_and_never_fills_the_last_column():
    assert fit("short", 40) == "short"
    long = "Knee to chest · 01:02 / 14:03 · 13:01 left  [paused: space resumes]"
    cut = fit(long, 30)
    assert len(cut) == 29 and cut.endswith(ELLIPSIS)
    assert "\n" not in fit("two\nlines", 40)


def test_status_line_redraws_only_on_change_and_follows_a_resize():
    master, stream = _pty(60)
    try:
        status = StatusLine(stream)
        text = "Cat-cow · 00:10 / 05:00 · 04:50 left  [paused: space resumes]  " * 2
        assert status.show(text) is True
        assert status.show(text) is False                  # same text: nothing written
        drawn = os.read(master, 4096).decode()
        assert drawn.count(ELLIPSIS) == 1
        assert len(drawn.split("\x1b[2K")[-1]) == 59
        _resize(stream, 100)
        assert status.show(text) is True                   # re-measured after the resize
        wider = os.read(master, 4096).decode().split("\x1b[2K")[-1]
        assert 90 < len(wider) <= 99 and wider.endswith(ELLIPSIS)
    finally:
        stream.close()
        os.close(master)


def test_notice_wraps_at_word_boundaries():
    master, stream = _pty(60)
    try:
        text = ("voiceguide is for gentle self-care, not a treatment. Stop at once if you "
                "feel sharp or shooting pain, numbness, tingling, or weakness.")
        lines = wrap(text, stream).splitlines()
        assert len(lines) > 1 and all(len(line) <= 59 for line in lines)
        assert " ".join(lines) == text                     # no word was cut
    finally:
        stream.close()
        os.close(master)


def _player_at_question(gate: str):
    """A player (no stream opened) with its playhead inside a ``gate`` question."""
    library = catalog.load_library()
    if gate == "between":
        timeline = compile_routine(library.routine("quick"), Pacing(), estimated_speech(160),
                                   library.phrases, library.positions)
    else:
        timeline = compile_message("q", "Question", (), estimated_speech(160), 1.0,
                                   ("Did you say stop?", gate))
    keys = queue.Queue()
    player = Player(timeline, lambda t: None, keys=keys, guide=Questions(Inbox(), 8.0))
    question = next(e for e in timeline.events if e.gate == gate)
    player.output._commands.clear()  # no callback runs: the first seek is taken as done
    player.output.position = question.start + 100
    return player, keys


def _press(player, keys, key):
    keys.put(key)
    for k in player.poll_keys():
        player._handle_key(k)


def test_n_is_no_while_a_yes_no_question_is_open():
    player, keys = _player_at_question("confirm-stop")
    _press(player, keys, "n")
    assert player.poll_keys() == ["n"]                    # kept as the answer, not "next"


def test_n_is_next_at_any_other_question():
    player, keys = _player_at_question("between")
    section = player.timeline.section_at(player.position)
    _press(player, keys, "n")
    assert player.poll_keys() == []
    assert player.timeline.section_at(player.heading()) == section + 1


def test_a_late_yes_no_key_is_ignored():
    player, keys = _player_at_question("between")
    player.output.position = SAMPLE_RATE                  # in the opening, no question
    player.guide.key_rules.yes_no_closed_at = time.monotonic()   # a yes/no question timed out
    before = player.heading()
    _press(player, keys, "n")
    _press(player, keys, "y")
    assert player.heading() == before and player.poll_keys() == []
    player.guide.key_rules.yes_no_closed_at = time.monotonic() - 60   # long ago: n is next again
    _press(player, keys, "n")
    assert player.heading() != before


def test_next_twice_while_speech_gets_ready_moves_on_twice():
    """Speech that gets ready while a seek is pending queues a continuation after
    it; a second ``n`` still counts from where the first one goes (it used to
    count from the playhead, and the two presses moved on only once)."""
    player, keys = _player_at_question("between")
    player.output.position = SAMPLE_RATE                  # in the opening
    section = player.timeline.section_at(player.position)
    _press(player, keys, "n")
    player.output._commands.append(dataclasses.replace(player.output._commands[-1],
                                                       start=CONTINUE))
    _press(player, keys, "n")
    assert player.timeline.section_at(player.heading()) == section + 2


# --- the whole screen, in tmux -------------------------------------------------

def _status_copies(screen: str) -> int:
    return sum(1 for line in screen.splitlines() if " left" in line or "check-in:" in line)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is needed (scripts/setup.sh --test)")
@pytest.mark.parametrize("columns", [60, 100])
def test_tmux_screen_never_holds_two_status_lines(pulse, tmp_path, two, user_dirs, columns):
    user_dirs["config"].mkdir(parents=True, exist_ok=True)
    (user_dirs["config"] / "settings.toml").write_text('intro = "never"\nlisten = "off"\n')
    socket = tmp_path / "tmux.sock"
    env = pulse.env()
    env.pop("TMUX", None)
    command = " ".join(voiceguide_command() + ["play", str(two), "--checkin-timeout", "3"])
    tmux = ["tmux", "-S", str(socket)]
    subprocess.run(tmux + ["-f", "/dev/null", "new-session", "-d", "-x", str(columns), "-y",
                           "20", f"env XDG_CONFIG_HOME={env['XDG_CONFIG_HOME']} "
                           f"XDG_DATA_HOME={env['XDG_DATA_HOME']} "
                           f"XDG_CACHE_HOME={env['XDG_CACHE_HOME']} {command}; sleep 30"],
                   env=env, check=True)
    try:
        seen_status = seen_question = 0
        skipped = False
        confirmed = "or stop? no answer (timeout)"          # the check-in's answer, on screen
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            screen = subprocess.run(tmux + ["capture-pane", "-p"], env=env, capture_output=True,
                                    text=True).stdout
            assert _status_copies(screen) <= 1, screen
            assert all(len(line) <= columns for line in screen.splitlines())
            # once the routine plays (after the pain score asked before it), on to the
            # check-in at once
            if " left" in screen and "check-in" not in screen.lower() and not skipped:
                for _ in range(2):
                    subprocess.run(tmux + ["send-keys", "n"], env=env, check=True)
                    time.sleep(0.3)
                skipped = True
            assert not re.search(r"-\d+:\d\d", screen), screen    # no time below zero
            seen_status += " left" in screen
            seen_question += "check-in:" in screen
            if confirmed in " ".join(screen.split()):
                break
            time.sleep(0.2)
        assert seen_status and seen_question, screen
        assert confirmed in " ".join(screen.split()), screen
        assert "s stop, q quit." in " ".join(screen.split()), screen   # wrapped between words
    finally:
        subprocess.run(tmux + ["kill-server"], env=env, capture_output=True)


def test_a_seek_to_another_timeline_is_seen_whole_before_the_callback_takes_it():
    """A seek takes its timeline at once but moves the playhead only when the
    callback reaches it: until then, where play is going (``heading``) is in the
    new timeline, and the status line and the stop path use it, never the old
    playhead against the new timeline (which showed "-1:59:17 left")."""
    player, _ = _player_at_question("between")        # deep inside the routine
    status = io.StringIO()
    player._status_line = StatusLine(status)
    message = compile_message("ack", "Check-in", (), estimated_speech(160), 1.0,
                              then="Good.")   # an acknowledgement, as the dialogue makes it
    player.seek(0, message)                           # the callback has not run since
    assert player.position > message.total_samples and player.heading() == 0
    player.show_status()
    assert "Check-in · 00:00 / " in status.getvalue()
    assert not re.search(r"-\d+:\d\d", status.getvalue())
