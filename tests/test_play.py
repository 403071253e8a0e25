"""Play through real PortAudio: ALSA's file plugin (no clock) and a PulseAudio
null sink (real-time clock), driven through a pseudo-terminal like a person would."""

from __future__ import annotations

import os
import subprocess
import termios
import time

import numpy as np
import pytest
import soundfile

from tests.support.audio import alsa_file_env, read_played, trim_silence
from tests.support.cli import run_voiceguide, voiceguide_command
from voiceguide.audio.output import CALLBACK_FRAMES
from voiceguide.catalog import load_phrases
from voiceguide.timing.timeline import SAMPLE_RATE

@pytest.mark.parametrize("routine", ["quick", "two"])
def test_play_without_checkins_is_the_export_sample_for_sample(tmp_path, two, routine):
    routine = two if routine == "two" else routine
    exported = tmp_path / "export.wav"
    assert run_voiceguide("export", routine, "-o", exported).returncode == 0
    played = tmp_path / "played.wav"
    result = run_voiceguide("play", routine, "--no-checkins",
                            env=alsa_file_env(tmp_path / "home", played))
    assert result.returncode == 0, result.stderr
    assert "Routine complete." in result.stdout
    heard = trim_silence(read_played(played))
    written = trim_silence(soundfile.read(str(exported), dtype="float32")[0])
    assert len(heard) == len(written)
    # the export is 16-bit PCM: equal within one quantization step
    assert np.abs(heard - written).max() <= 1.0 / 32768 + 1e-7


def test_play_with_stdin_not_a_terminal_runs_to_the_end_through_check_ins(tmp_path, two):
    played = tmp_path / "played.wav"
    env = alsa_file_env(tmp_path / "home", played)
    result = run_voiceguide("play", two, "--checkin-timeout", "1", "--no-listen", env=env)
    assert result.returncode == 0, result.stderr   # nobody can answer: silence goes on
    assert "Routine complete." in result.stdout
    assert result.stdout.count("\n") == 1  # no key help, no status line


def test_no_output_device(tmp_path, two):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text('pcm.!default { type hw card 42 }\n')
    env = dict(os.environ, HOME=str(home))
    env.pop("PULSE_SERVER", None)
    result = run_voiceguide("play", two, env=env)
    assert result.returncode == 3, result.stderr
    assert "voiceguide export" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_devices_lists_the_default(tmp_path):
    env = alsa_file_env(tmp_path / "home", tmp_path / "played.wav")
    result = run_voiceguide("devices", env=env)
    assert result.returncode == 0 and "default" in result.stdout


def test_unknown_device_is_bad_input(tmp_path, two):
    env = alsa_file_env(tmp_path / "home", tmp_path / "played.wav")
    result = run_voiceguide("play", two, "--device", "no such speaker", env=env)
    assert result.returncode == 2 and "no output device matches" in result.stderr


# ---------------------------------------------------------------- real time

@pytest.mark.alone
def test_keys_pause_skip_and_stop_at_a_check_in(terminal, two):
    # the fastest speech rate: the stop path it ends with (slow, with a rest and a
    # pause after each step of getting up) takes about 50 s instead of 80
    t = terminal("play", two, "--checkin-timeout", "30", "--rate", "300")
    t.wait_for("stream-started")
    time.sleep(0.8)
    t.press(" ")
    paused = t.wait_for("control", word="toggle")
    time.sleep(0.6)
    t.press(" ")
    resumed = [e for e in t.events() if e["event"] == "control"]
    while len(resumed) < 2:
        t.read(0.02)
        resumed = [e for e in t.events() if e["event"] == "control"]
    # paused within 100 ms of the key (one 46 ms callback at most), resumed at that sample
    assert resumed[1]["position"] - paused["position"] <= int(0.1 * SAMPLE_RATE)
    screen = t.read(0.3)
    assert "Welcome" in screen and "left" in screen          # the live status line
    t.press("n")
    t.wait_for("control", word="next")
    t.press("n")
    gate = t.wait_for("gate")
    assert gate["question"] == load_phrases().checkin_question     # the day's wording
    assert "check-in" in t.read(0.4)
    t.press("s")
    assert t.finish(150) == 0
    assert "Stopped for safety" in t.read()
    stopped = t.wait_for("stopped")
    assert stopped["ending"] == "stopped"


@pytest.mark.alone
def test_ctrl_c_stops_within_200_ms_and_restores_the_terminal(terminal, two):
    t = terminal("play", two)
    before = termios.tcgetattr(t.slave)
    started = t.wait_for("stream-started")
    assert started["t"] - t.started < 2.0
    time.sleep(0.5)
    during = termios.tcgetattr(t.slave)
    assert not during[3] & termios.ICANON     # single keys, no Enter
    sent = t.press("\x03")
    assert t.finish(10) == 130
    aborted = t.wait_for("aborted")
    assert aborted["t"] - sent < 0.2
    assert termios.tcgetattr(t.slave)[3] == before[3]   # echo and line mode are back
    output = t.read()
    assert "Traceback" not in output and "Expression" not in output


def test_quit_key(terminal, two):
    t = terminal("play", two)
    t.wait_for("stream-started")
    t.press("q")
    assert t.finish(10) == 0
    assert t.wait_for("stopped")["ending"] == "quit"


def test_sound_server_going_away_mid_play_ends_cleanly(tmp_path, two):
    """The device disappears (PulseAudio killed): exit 3 with one line, never a hang."""
    from tests.support.audio import PulseServer

    server = PulseServer(tmp_path / "pulse").start()
    trace = tmp_path / "trace.jsonl"
    env = dict(server.env(), VOICEGUIDE_TRACE=str(trace))
    process = subprocess.Popen(voiceguide_command() + ["play", str(two), "--no-checkins"],
                               env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while "stream-started" not in (trace.read_text() if trace.exists() else ""):
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
        server.stop()
        _, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
        server.stop()
    assert process.returncode == 3
    assert err.strip() == ("voiceguide: the audio device stopped responding; check it, "
                           "or use 'voiceguide export' to make a file instead")


@pytest.mark.alone
def test_cold_cache_starts_at_once_and_synthesizes_ahead(terminal, tmp_path, monkeypatch):
    """An empty speech cache: play starts with the first clips and makes the rest
    in the background, ahead of the playhead, instead of everything first."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    t = terminal("play", "morning", "--no-checkins")
    started = t.wait_for("stream-started")
    extended = t.wait_for("extend")
    # quit once the 3 s the first sound may take are over (it came 1.2-1.7 s
    # after the stream started on the 2-core test machine)
    time.sleep(max(0.0, t.started + 3.2 - time.monotonic()))
    t.press("q")
    assert t.finish(20) == 0
    stopped = t.wait_for("stopped")
    print(f"\nfirst sound {stopped['first_sound'] and stopped['first_sound'] - t.started} s "
          f"after the command started")
    assert stopped["first_sound"] is not None and stopped["first_sound"] - t.started < 3.0
    assert extended["t"] >= started["t"]        # more speech arrived while playing
    assert stopped["position"] > CALLBACK_FRAMES  # and play went on meanwhile


def test_a_key_pressed_during_the_question_answers_the_gate():
    """No stream is opened: the player's key handling alone, at a known position."""
    import queue

    from voiceguide import catalog
    from voiceguide.timing.compiler import compile_routine, estimated_speech
    from voiceguide.routine.pacing import Pacing
    from voiceguide.session.checkin import Inbox
    from voiceguide.session.dialogue import Questions
    from voiceguide.session.player import Player

    library = catalog.load_library()
    timeline = compile_routine(library.routine("quick"), Pacing(), estimated_speech(160),
                               library.phrases, library.positions)
    keys = queue.Queue()
    player = Player(timeline, lambda t: None, keys=keys, guide=Questions(Inbox(), 8.0))
    question = next(e for e in timeline.events if e.gate == "between")
    player.output.position = question.start + 100           # the question is being asked
    keys.put("w")
    for key in player.poll_keys():
        player._handle_key(key)
    assert player.poll_keys() == ["w"]                       # kept for the gate
    player.output.position = question.start - SAMPLE_RATE * 5  # during an exercise
    keys.put("w")
    for key in player.poll_keys():
        player._handle_key(key)
    assert player.poll_keys() == []                          # not an answer to anything


def test_bad_routine_file_for_play_is_a_clean_error(tmp_path):
    """PortAudio starts early in the background; an error meanwhile must not crash."""
    bad = tmp_path / "bad.toml"
    bad.write_text('title = "Bad"\n[[exercise]]\ntechnique = "knee-to-chest"\nhold = "long"\n')
    env = alsa_file_env(tmp_path / "home", tmp_path / "played.wav")
    for _ in range(3):
        result = run_voiceguide("play", bad, env=env)
        assert result.returncode == 2
        assert result.stderr == (f"voiceguide: {bad}:4: exercise[1].hold: "
                                 "expected a number, not 'long'\n")
