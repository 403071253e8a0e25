"""The check-in dialogue end to end: voice through the real input path, keys
through a pseudo-terminal, the history it leaves, the intro and the daily limit."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.audio import alsa_file_env
from tests.support.cli import run_voiceguide, voiceguide_command
from tests.support.cli import TWO
from tests.support.terminal import Terminal
from voiceguide import history as log
from voiceguide import catalog

THREE = TWO + '[[exercise]]\ntechnique = "knee-to-chest"\nhold = 20\n'

#: For the tests that wait in real time (PulseAudio's clock) for a check-in and then
#: the stop path: the fastest speech rate allowed, half the pauses and no rest between
#: exercises. The same questions, answers and stop path come, in half the time.
SOONER = ("--rate", "300", "--pace", "0.5", "--rest", "0")


@pytest.fixture
def three(tmp_path):
    path = tmp_path / "three.toml"
    path.write_text(THREE)
    return path


def quiet_settings(user_dirs, **values):
    user_dirs["config"].mkdir(parents=True, exist_ok=True)
    lines = [f'{k} = "{v}"' for k, v in values.items()]
    (user_dirs["config"] / "settings.toml").write_text("\n".join(lines) + "\n")


def events(trace: Path) -> list[dict]:
    return [json.loads(line) for line in trace.read_text().splitlines()] if trace.exists() else []


def story(trace: Path) -> str:
    """What the player traced, without its buffer bookkeeping: printed when a
    real-time test fails, so a failure on CI tells what was heard and decided."""
    return "\n".join(json.dumps(e) for e in events(trace) if e["event"] != "extend")


def communicate(process: subprocess.Popen, trace: Path, timeout: float) -> tuple[str, str]:
    """The player's output once it ends; if it has not within ``timeout``, it is
    ended (SIGTERM) and the test fails with its trace and what it printed."""
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.terminate()
        out, err = process.communicate(timeout=30)
        pytest.fail(f"the player had not ended after {timeout} s\n{story(trace)}\n"
                    f"stdout: {out}\nstderr: {err}")


@pytest.mark.alone
def test_stop_by_voice_at_the_first_check_in(pulse, tmp_path, three, user_dirs):
    """The microphone is PulseAudio's null-sink monitor: at the first check-in the
    test says "stop" into the sink, as a person would into a microphone."""
    quiet_settings(user_dirs, intro="never")
    stop = tmp_path / "stop.wav"
    subprocess.run(["espeak-ng", "-v", "en-us+klatt2", "-w", str(stop), "stop"], check=True)
    trace = tmp_path / "trace.jsonl"
    env = dict(pulse.env(), VOICEGUIDE_TRACE=str(trace))
    process = subprocess.Popen(voiceguide_command() + ["play", str(three), "--listen",
                                                       "--checkin-timeout", "30", *SOONER],
                               env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not any(e["event"] == "gate" for e in events(trace)):
            assert time.monotonic() < deadline and process.poll() is None, story(trace)
            time.sleep(0.1)
        time.sleep(0.8)   # the question has been heard; the player is listening
        subprocess.run(["paplay", str(stop)], env=pulse.env(), check=True)
        out, err = communicate(process, trace, 90)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "Stopped for safety" in out, story(trace)
    answers = [(e["gate"], e["word"], e["source"], e["decision"])
               for e in events(trace) if e["event"] == "answer"]
    assert answers == [("baseline", "stop", "voice", "stop")], story(trace)
    with log.History() as db:
        [record] = db.sessions()
    assert record.ending == "stopped"
    assert [(c["answer"], c["source"]) for c in record.checkins] == [("stop", "voice")]


@contextlib.contextmanager
def keys_only_play(tmp_path, routine, user_dirs):
    """``play ROUTINE`` on a pseudo-terminal, answered by keys only (listening off),
    its clips made first as by an earlier session (on an empty cache the clock-less
    file device can play past a check-in); killed if still running at the end."""
    quiet_settings(user_dirs, intro="never", listen="off")
    assert run_voiceguide("show", routine, *SOONER).returncode == 0
    t = Terminal(["play", routine, "--checkin-timeout", "30", *SOONER],
                 alsa_file_env(tmp_path / "home", tmp_path / "played.wav"),
                 tmp_path / "trace.jsonl")
    try:
        yield t
    finally:
        if t.process.poll() is None:
            t.process.kill()
        t.close()


def test_a_first_pain_of_9_leads_into_no_exercise(tmp_path, three, user_dirs):
    """Severe pain is for a professional first: after a 9, the guide says why and
    what to do, no exercise follows, and the session is kept as not started today
    with its score. (Keys and sound as in the test below.)"""
    with keys_only_play(tmp_path, three, user_dirs) as t:
        t.wait_for("gate", gate="baseline")
        t.press("9")
        assert t.wait_for("answer", gate="baseline")["decision"] == "not-today"
        said = t.wait_for("not-today")
        assert t.finish(60) == 0
        assert "Not started: with pain this strong" in t.read()
    assert said["lines"] == list(catalog.load_phrases().not_today)
    assert not any(e["event"] == "gate" and e["gate"] != "baseline" for e in t.events())
    with log.History() as db:
        [record] = db.sessions()
    assert (record.ending, record.baseline, record.final) == ("not-today", 9, None)


def test_worse_at_the_first_check_in_takes_the_stop_path(tmp_path, three, user_dirs):
    """Increased pain is a stop sign (FACTS): "worse" stops, with no gentler path.

    Keys through a pseudo-terminal; the sound goes to ALSA's file device, which
    has no clock, so the routine plays as fast as it is rendered and the test
    waits only for the check-ins (its clips made first, as by an earlier session:
    on an empty cache the clock-less device can play past a check-in)."""
    with keys_only_play(tmp_path, three, user_dirs) as t:
        t.wait_for("gate", gate="baseline")
        t.press("3")                              # pain 3, acknowledged, then on
        assert t.wait_for("answer", gate="baseline")["decision"] == "continue"
        t.wait_for("gate", gate="continue")
        t.wait_for("gate", gate="between", timeout=90)
        t.press("w")
        assert t.wait_for("answer", gate="between")["decision"] == "stop"
        stop = t.wait_for("stop-path")
        assert t.finish(60) == 0
        assert "Stopped for safety" in t.read()
    # stopped at the check-in before child's pose: still lying on the back
    assert stop["position"] == "back"
    assert catalog.load_positions().positions["back"].rest[0] in stop["lines"]
    assert not any(e["event"] == "gate" and e["gate"] == "between"
                   for e in t.events() if e["t"] > stop["t"])
    with log.History() as db:
        [record] = db.sessions()
    assert record.ending == "stopped"
    assert [(c["answer"], c["source"]) for c in record.checkins] == [("3", "key"),
                                                                      ("worse", "key")]


def test_no_answers_run_to_the_end_and_are_recorded(tmp_path, three, user_dirs):
    """Where nobody can answer (no keys, no microphone), silence goes on."""
    quiet_settings(user_dirs, intro="never")
    # Every clip made first, as by any earlier session. This test is about what is
    # recorded; it used to pass only because earlier tests had filled the shared cache.
    # (On an empty cache, the clock-less file device plays ahead of the synthesis, and
    # the first "between" check-in is then passed by: 3 check-ins recorded, not 4.)
    assert run_voiceguide("show", three).returncode == 0
    env = alsa_file_env(tmp_path / "home", tmp_path / "played.wav")
    result = run_voiceguide("play", three, "--checkin-timeout", "1", "--no-listen", env=env)
    assert result.returncode == 0 and "Routine complete." in result.stdout
    with log.History() as db:
        [record] = db.sessions()
    assert record.ending == "completed" and record.baseline is None
    assert [(c["answer"], c["source"]) for c in record.checkins] == [("none", "timeout")] * 4


def test_a_third_silence_in_a_row_pauses_and_waits(tmp_path, three, user_dirs):
    """A microphone that hears nothing (ALSA reading zeros): the second silence asks
    "Are you all right?", the third says it will wait and pauses play, which then
    waits (here until SIGTERM ends it, recorded as interrupted)."""
    quiet_settings(user_dirs, intro="never")
    assert run_voiceguide("show", three).returncode == 0
    trace = tmp_path / "trace.jsonl"
    env = dict(alsa_file_env(tmp_path / "home", tmp_path / "played.wav"),
               VOICEGUIDE_TRACE=str(trace))
    process = subprocess.Popen(voiceguide_command() + ["play", str(three), "--checkin-timeout",
                                                       "1", "--listen"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None and not any(
                e["event"] == "control" and e["word"] == "pause" for e in events(trace)):
            time.sleep(0.05)
        time.sleep(2.0)
        assert process.poll() is None, process.communicate()   # still waiting
    finally:
        process.terminate()
        process.communicate(timeout=30)
    assert process.returncode == 143
    phrases = catalog.load_phrases()
    said = [e for e in events(trace) if e["event"] == "answer"]
    assert [e["word"] for e in said] == ["none"] * 3
    with log.History() as db:
        [record] = db.sessions()
    assert record.ending == "interrupted"
    assert [c["answer"] for c in record.checkins] == ["none"] * 3
    said = [e["question"] for e in events(trace) if e["event"] == "gate"
            and e["gate"] == "continue"]                     # the words after each answer
    assert said == [phrases.acknowledge["none"], phrases.are_you_ok, phrases.waiting]


def test_intro_on_first_run_only_and_again_on_request(tmp_path, two, user_dirs):
    env = alsa_file_env(tmp_path / "home", tmp_path / "played.wav")
    first = run_voiceguide("play", two, "--checkin-timeout", "1", "--no-listen", env=env)
    assert "not medical advice" in first.stderr
    second = run_voiceguide("play", two, "--checkin-timeout", "1", "--no-listen", env=env)
    assert "not medical advice" not in second.stderr
    again = run_voiceguide("play", two, "--checkin-timeout", "1", "--no-listen", "--intro", env=env)
    assert "not medical advice" in again.stderr


def test_third_session_of_the_day_asks_first(tmp_path, two, user_dirs):
    quiet_settings(user_dirs, intro="never")
    env = alsa_file_env(tmp_path / "home", tmp_path / "played.wav")
    for _ in range(2):
        assert "Routine complete." in run_voiceguide("play", two, "--checkin-timeout", "1", "--no-listen",
                                                     env=env).stdout
    third = run_voiceguide("play", two, "--checkin-timeout", "1", "--no-listen", env=env)
    assert third.returncode == 0
    assert "already done two sessions today" in third.stderr
    assert "Not started" in third.stdout          # no answer: do not start
    with log.History() as db:
        assert len(db.sessions()) == 2
    # --no-checkins has no place for the question: it plays, like an export
    plain = run_voiceguide("play", two, "--no-checkins", env=env)
    assert "Routine complete." in plain.stdout and "two sessions" not in plain.stderr
