"""The recognizer in its own process (voiceguide.hearing.process) and the
stop-only recognition used over the guide's voice (recognizer.hear_stop).

Real espeak-ng speech, real PocketSphinx, a real worker process.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.support.voice_samples import spoken
from voiceguide.hearing import recognizer
from voiceguide.hearing.process import RecognizerProcess

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def said(tmp_path_factory):
    folder = tmp_path_factory.mktemp("said")
    return {text: spoken(text, "en-us+klatt2", folder, dtype="float32")
            for text in ("please stop", "my leg feels weak", "it feels good", "about the same")}


def test_hear_stop_answers_stop_only_when_the_words_say_it(said):
    assert recognizer.hear_stop(*said["please stop"]).word == "stop"
    assert recognizer.hear_stop(*said["my leg feels weak"]).word == "stop"
    assert recognizer.hear_stop(*said["it feels good"]).word == "none"
    assert recognizer.hear_stop(*said["about the same"]).word == "none"
    assert recognizer.hear_stop(np.zeros(16000, np.int16), 16000).word == "none"


def test_hear_stop_asks_when_a_stop_sign_comes_close_behind_words_that_fit():
    """Two utterances as the barge-in passed them to the recognizer. A person's "I
    feel numb" over the guide's voice, through a real sound server and the echo
    canceller: decoded "I feel fine", "I feel numb" just behind, so the player
    asks "Did you say stop?". What the canceller left of the guide's own voice in
    the room simulation: decoded "about okay", a stop sign as close behind, but
    fitting the audio far worse than any sequence of sounds: nothing."""
    person = recognizer.hear_stop(*sf.read(DATA / "over-guide-i-feel-numb.wav", dtype="int16"))
    assert (person.word, person.sure, person.heard) == ("stop", False, "i feel fine")
    guide = recognizer.hear_stop(*sf.read(DATA / "guide-residue-about-okay.wav", dtype="int16"))
    assert guide.word == "none"
    # recognize's rules, with the rival searches, take the guide's words for a stop
    assert recognizer.recognize(*sf.read(DATA / "guide-residue-about-okay.wav",
                                         dtype="int16")).word == "stop"


def test_the_worker_answers_as_the_recognizer_does(said):
    worker = RecognizerProcess()
    try:
        for samples, rate in said.values():
            assert worker.recognize(samples, rate) == recognizer.recognize(samples, rate)
            assert worker.hear_stop(samples, rate) == recognizer.hear_stop(samples, rate)
    finally:
        worker.close()


def test_decoding_in_the_worker_leaves_other_threads_running(said):
    """PocketSphinx holds the GIL while it decodes: in this process a thread that
    wakes every 5 ms (as an audio callback does) waits a quarter of a second."""
    def longest_gap(work) -> float:
        gaps, done = [], threading.Event()

        def tick():
            last = time.monotonic()
            while not done.is_set():
                time.sleep(0.005)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        thread = threading.Thread(target=tick)
        thread.start()
        work()
        done.set()
        thread.join()
        return max(gaps)

    speech = np.concatenate([s for s, _ in said.values()])
    rate = said["please stop"][1]
    recognizer.warm_up()
    worker = RecognizerProcess()
    try:
        worker.recognize(speech[:rate], rate)      # the worker has warmed up
        here = longest_gap(lambda: recognizer.recognize(speech, rate))
        there = longest_gap(lambda: worker.recognize(speech, rate))
    finally:
        worker.close()
    print(f"\nlongest wait of a 5 ms thread while decoding: in this process {here:.3f} s, "
          f"in the worker {there:.3f} s")
    assert there < 0.1 < here


def test_a_dead_worker_falls_back_to_this_process(said):
    worker = RecognizerProcess()
    worker._process.kill()
    worker._process.join()
    try:
        assert worker.recognize(*said["please stop"]).word == "stop"
    finally:
        worker.close()


def test_the_worker_leaves_every_stop_to_its_parent(tmp_path, said):
    """Ctrl-C, Ctrl-\\ and a hang-up reach every process on the terminal: the worker
    ignores them (the parent stops it), ends silently when terminated, and never says
    a stop line of its own. Run from a program that imports the entry point, as the
    console script does (a spawned worker imports its parent's main program again)."""
    import signal
    import subprocess
    import sys

    samples, rate = said["please stop"]
    sf.write(tmp_path / "stop.wav", samples, rate)
    program = tmp_path / "parent.py"
    program.write_text(
        "import os, signal, sys, time\n"
        "import soundfile as sf\n"
        "from voiceguide.cli.main import main\n"
        "from voiceguide.hearing.process import RecognizerProcess\n"
        "if __name__ == '__main__':\n"
        "    for s in (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP):\n"
        "        signal.signal(s, signal.SIG_IGN)\n"
        "    worker = RecognizerProcess()\n"
        f"    samples, rate = sf.read({str(tmp_path / 'stop.wav')!r}, dtype='float32')\n"
        "    worker.recognize(samples, rate)\n"
        "    for s in (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP):\n"
        "        os.kill(worker._process.pid, s)\n"
        "    time.sleep(0.5)\n"
        "    print(worker._process.is_alive(), worker.recognize(samples, rate).word)\n"
        "    worker._process.terminate()\n"
        "    worker._process.join(5)\n"
        "    print(worker._process.exitcode)\n")
    done = subprocess.run([sys.executable, str(program)], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.split() == ["True", "stop", str(-signal.SIGTERM)], done.stderr
    assert done.stderr == ""
