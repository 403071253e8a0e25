"""Tests of the offline answer recognizer and of the listener.

The recognizer is measured on a set of about a hundred recordings made with
espeak-ng (``tests/support/voice_samples.py``): several voices, speeds and pitches,
some with white or pink noise at 20 dB SNR, some at 8, 44.1 or 48 kHz, some
stereo, plus silence and noise-only files.  ``pytest -s`` prints the confusion
table.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.support import voice_samples
from tests.support.cli import voiceguide_command
from voiceguide.errors import DeviceError, InputError
from voiceguide.hearing.recognizer import VOCABULARY, Heard, recognize, recognize_file

DATA = Path(__file__).parent / "data"

needs_espeak = pytest.mark.skipif(not voice_samples.espeak_available(),
                                  reason="espeak-ng is not installed")

ORDER = ["good", "same", "worse", "stop", "pause", "resume", "next", "repeat", "yes", "no",
         *[str(n) for n in range(11)], "none"]


@pytest.fixture(scope="session")
def voice_set(tmp_path_factory):
    """The generated recordings (once per session)."""
    assert voice_samples.espeak_available(), "espeak-ng is needed (scripts/setup.sh installs it)"
    return voice_samples.generate(tmp_path_factory.mktemp("voices"))


#: How many ``voiceguide hear`` processes share a set: recognition is CPU-bound and
#: the test machines have two cores.
HEAR_PROCESSES = 2


def hear_files(paths: list[Path]) -> tuple[list[dict], float]:
    """Every file heard through the real ``voiceguide hear --json --file ...`` command:
    (one JSON answer per file, in order; seconds each file took its process).

    The files are split between :data:`HEAR_PROCESSES` processes running at once,
    each hearing its consecutive share of them (one engine start per process)."""
    size = -(-len(paths) // HEAR_PROCESSES)
    shares = [paths[i:i + size] for i in range(0, len(paths), size)]
    t = time.perf_counter()
    processes = [subprocess.Popen(voiceguide_command() + ["hear", "--json"] +
                                  [a for path in share for a in ("--file", str(path))],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL, text=True) for share in shares]
    lines = []
    try:
        for process in processes:
            out, err = process.communicate(timeout=600)
            assert process.returncode == 0, err
            lines += [json.loads(line) for line in out.splitlines()]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert [line["file"] for line in lines] == [str(path) for path in paths]
    return lines, (time.perf_counter() - t) / max(len(share) for share in shares)


@pytest.fixture(scope="session")
def results(voice_set):
    """(sample, answer, seconds) for every recording, heard through the real
    ``voiceguide hear --file`` command (see :func:`hear_files`)."""
    lines, each = hear_files([s.path for s in voice_set])
    return [(s, Heard(line["answer"], line["confidence"], line["heard"]), each)
            for s, line in zip(voice_set, lines)]


def _confusion_table(results) -> str:
    counts = collections.Counter((s.label, a.word) for s, a, _ in results)
    cols = [c for c in ORDER if any(k[1] == c for k in counts)]
    rows = [r for r in ORDER if any(k[0] == r for k in counts)]
    width = max(len(c) for c in cols) + 1
    lines = ["expected \\ heard " + "".join(f"{c:>{width}}" for c in cols)]
    for r in rows:
        cells = "".join(f"{(counts[(r, c)] or '.'):>{width}}" for c in cols)
        lines.append(f"{r:>16} " + cells)
    return "\n".join(lines)


def test_the_set_is_large_and_varied(voice_set):
    assert len(voice_set) >= 60
    assert len({s.voice for s in voice_set if s.voice}) >= 2
    assert len({s.speed for s in voice_set if s.speed}) >= 3
    assert len({s.pitch for s in voice_set if s.pitch}) >= 3
    assert sum(1 for s in voice_set if s.noise and s.label != "none") >= 10
    assert {44100, 8000} <= {s.rate for s in voice_set}
    assert any(s.channels == 2 for s in voice_set)
    assert {s.label for s in voice_set} <= set(VOCABULARY)


def test_accuracy_and_confusion_table(results):
    right = sum(1 for s, a, _ in results if a.word == s.label)
    accuracy = right / len(results)
    seconds = [t for _, _, t in results]
    print()
    print(_confusion_table(results))
    print(f"accuracy {right}/{len(results)} = {accuracy:.1%}; "
          f"latency per recording: median {1000 * np.median(seconds):.0f} ms, "
          f"max {1000 * max(seconds):.0f} ms")
    for s, a, _ in results:
        if a.word != s.label:
            print(f"  {s.path.name}: expected {s.label}, heard {a.word} "
                  f"({a.heard!r}, confidence {a.confidence}) [{s.voice} {s.speed} "
                  f"{s.pitch} {s.noise or 'clean'} {s.rate} Hz]")
    assert accuracy >= 0.95


def test_stop_and_stop_signs_are_never_missed(results):
    missed = [(s.text, a) for s, a, _ in results if s.label == "stop" and a.word != "stop"]
    assert not missed


def test_good_is_never_heard_wrongly(results):
    wrong = [(s.text, a) for s, a, _ in results if a.word == "good" and s.label != "good"]
    assert not wrong


def test_silence_and_noise_give_none(results):
    quiet = [(s, a) for s, a, _ in results if s.label == "none"]
    assert len(quiet) >= 3
    assert all(a.word == "none" for _, a in quiet), quiet


def test_answers_are_well_formed(results):
    for _, a, _ in results:
        assert isinstance(a, Heard)
        assert a.word in VOCABULARY
        assert 0.0 <= a.confidence <= 1.0
        assert isinstance(a.heard, str)


# --- Whole-phrase answers ---------------------------------------------------
#
# The phrases a person says instead of one word ("it feels good", "yes, I do",
# "my leg is numb"), spoken by three espeak-ng Klatt voices each at pitches and
# speeds the guide never uses, all with white or pink noise at 20 dB SNR.


@pytest.fixture(scope="session")
def phrase_results(tmp_path_factory):
    """(sample, answer) for every phrase, through ``voiceguide hear --file``."""
    assert voice_samples.espeak_available(), "espeak-ng is needed (scripts/setup.sh installs it)"
    samples = voice_samples.generate_phrases(tmp_path_factory.mktemp("phrases"))
    lines, _ = hear_files([s.path for s in samples])
    return [(s, Heard(line["answer"], line["confidence"], line["heard"]))
            for s, line in zip(samples, lines)]


def test_phrases_give_the_right_answer(phrase_results):
    wrong = [f"{s.text!r} ({s.voice} p{s.pitch} s{s.speed}): {a.word} <- {a.heard!r}"
             for s, a in phrase_results if a.word != s.label]
    right = len(phrase_results) - len(wrong)
    print(f"\nphrases: {right}/{len(phrase_results)} = {right / len(phrase_results):.1%}")
    print("\n".join(wrong))
    assert len(phrase_results) >= 100
    assert right / len(phrase_results) >= 0.97, wrong


def test_stop_inside_a_phrase_is_never_missed(phrase_results):
    stops = [(s, a) for s, a in phrase_results if s.label == "stop"]
    assert len(stops) >= 30
    assert [(s.text, a.word, a.heard) for s, a in stops if a.word != "stop"] == []


def test_phrases_around_an_answer_are_rarely_heard_as_stop(phrase_results):
    others = [(s, a) for s, a in phrase_results if s.label != "stop"]
    false_stops = [(s.text, a.heard) for s, a in others if a.word == "stop"]
    print(f"\nfalse stops: {len(false_stops)}/{len(others)}")
    assert len(false_stops) <= 0.02 * len(others), false_stops


@needs_espeak
def test_recognize_takes_any_rate_type_and_layout(tmp_path):
    wav = tmp_path / "stop.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), "-v", "en-us+klatt", "stop"], check=True)
    x, rate = sf.read(str(wav), dtype="float32")
    x = np.concatenate([np.zeros(rate // 3, np.float32), x, np.zeros(rate // 3, np.float32)])
    as_int16 = (x * 32767).astype(np.int16)
    stereo = np.stack([x, x], axis=1)
    assert recognize(x, rate).word == "stop"
    assert recognize(as_int16, rate).word == "stop"
    assert recognize(stereo, rate).word == "stop"
    resampled = voice_samples._resample(x.astype(np.float64), rate, 44100)
    assert recognize(resampled, 44100).word == "stop"


def test_recognize_rejects_bad_input():
    with pytest.raises(InputError):
        recognize(np.zeros((2, 2, 2)), 16000)
    with pytest.raises(InputError):
        recognize(np.zeros(100), 0)
    with pytest.raises(InputError):
        recognize(np.full(1000, np.nan), 16000)
    assert recognize(np.zeros(0), 16000).word == "none"


def test_recognize_file_names_the_unreadable_file(tmp_path):
    missing = tmp_path / "missing.wav"
    with pytest.raises(InputError, match="missing.wav"):
        recognize_file(missing)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"this is not a sound file")
    with pytest.raises(InputError, match="junk.wav") as err:
        recognize_file(junk)
    assert "\n" not in str(err.value)


def test_endpointer_finds_one_utterance():
    from voiceguide.hearing.listener import Endpointer

    rate = 16000
    rng = np.random.default_rng(0)
    quiet = (rng.normal(0, 30, rate)).astype(np.int16)
    tone = (8000 * np.sin(2 * np.pi * 220 * np.arange(rate // 2) / rate)).astype(np.int16)
    audio = np.concatenate([quiet, tone, quiet])
    ep = Endpointer(rate)
    found = []
    block = 480
    for i in range(0, len(audio) - block + 1, block):
        utt = ep.feed(audio[i:i + block])
        if utt is not None:
            found.append(utt)
    assert len(found) == 1
    # the tone plus the pre-roll and the hang-over
    assert 0.5 * rate <= len(found[0]) <= 1.6 * rate


def test_endpointer_keeps_a_quiet_sound_inside_the_words():
    """Barge-in tells the endpointer which blocks it takes for the guide's echo.
    Under a loud echo the quiet end of "numb" was taken for echo and quietened:
    a hole in the word, which the recognizer heard as "fine". Between two loud
    blocks, and in one block on each side of them, the utterance keeps the
    block's own audio; further out (the pre-roll, the quiet after the words) an
    echo block is quietened."""
    from voiceguide.hearing.endpointer import Endpointer

    rate, block = 16000, 480
    rng = np.random.default_rng(1)

    def blocks(level: float, count: int) -> list[np.ndarray]:
        return [(rng.normal(0, level, block)).astype(np.int16) for _ in range(count)]

    own = blocks(300, 10) + blocks(8000, 8) + blocks(300, 2) + blocks(8000, 4) + blocks(300, 30)
    echo = [np.abs(b).max() < 3000 for b in own]
    ep = Endpointer(rate)
    for b in blocks(30, 20):           # the room, before the guide sounds
        ep.feed(b)
    found = [u for b, e in zip(own, echo) if (u := ep.feed(b, echo=e)) is not None]
    assert len(found) == 1
    utterance = found[0].reshape(-1, block)
    first_loud = next(i for i, b in enumerate(utterance) if np.abs(b).max() >= 3000)
    start = 10 - first_loud                      # where the utterance begins in ``own``
    assert start < 9 and start + len(utterance) > 25    # pre-roll and tail are in it
    for i, b in enumerate(utterance):
        inside = 10 - 1 <= start + i < 10 + 8 + 2 + 4 + 1   # the words, one block either side
        quietened = (own[start + i] * 10 ** (ep.echo_db / 20)).astype(np.int16)
        expected = own[start + i] if inside or not echo[start + i] else quietened
        assert np.array_equal(b, expected), i


def test_endpointer_floor_does_not_follow_the_guides_echo():
    """Blocks barge-in takes for the guide's echo are never loud, and the noise
    floor does not follow them. A fan's steady noise goes through the echo
    canceller untouched; when echo blocks were quietened before the endpointer,
    they pulled its floor 30 dB under the noise, which was then taken for words
    (in the room simulation, 5 of 20 stops said over the guide were heard)."""
    from voiceguide.hearing.endpointer import Endpointer

    rate, block = 16000, 480
    rng = np.random.default_rng(4)
    fan = [(rng.normal(0, 180, block)).astype(np.int16) for _ in range(200)]   # -45 dB FS
    ep = Endpointer(rate)
    for b in fan[:50]:
        ep.feed(b)
    floor = ep.floor_db
    for b in fan[50:150]:
        assert ep.feed(b, echo=True) is None and not ep.last_loud
    assert ep.floor_db == floor
    assert not any(ep.feed(b) is not None or ep.last_loud or ep.in_speech for b in fan[150:])


def test_audio_no_path_of_the_model_fits_is_none_not_a_crash():
    """A fragment of the guide's voice (tests/data) for which the answers' model
    finds no path at all: PocketSphinx's nbest() and seg() are then None.

    Decoded first thing in a process of its own: PocketSphinx's noise estimate
    carries from one utterance to the next, and after other decodings (the tests
    run two at a time, in any order) the same fragment found a path once, which
    the safety rules took for a guessed stop."""
    code = textwrap.dedent("""
        import sys
        import soundfile as sf
        from voiceguide.hearing.recognizer import hear_stop, recognize
        samples, rate = sf.read(sys.argv[1], dtype="int16")
        print(recognize(samples, rate).word, hear_stop(samples, rate).word)
    """)
    result = subprocess.run([sys.executable, "-c", code, str(DATA / "guide-unparsable.wav")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["none", "none"]


def test_listener_drops_what_it_hears_while_muted():
    """Blocks fed through the stream callback while muted are marked muted, with
    their capture time, and without echo cancellation never reach recognition."""
    from types import SimpleNamespace

    from voiceguide.hearing.bargein import BargeIn
    from voiceguide.hearing.listener import Listener

    listener = Listener()
    times = SimpleNamespace(currentTime=10.0, inputBufferAdcTime=9.97)
    listener.mute()
    block = np.full((480, 1), 9000, dtype=np.int16)
    for _ in range(20):
        listener._callback(block, 480, times, None)
    listener.unmute()
    listener._callback(block, 480, times, None)
    queued = [listener._blocks.get_nowait() for _ in range(21)]
    assert [muted for _, muted, _ in queued] == [True] * 20 + [False]
    assert all(abs(time.monotonic() - 0.03 - at) < 1.0 for at, _, _ in queued)
    bargein = BargeIn(16000, None)
    assert not any(bargein.feed(b, at, muted) for at, muted, b in queued[:20])
    assert not bargein.endpointer.in_speech


def test_input_available_never_raises(monkeypatch):
    import sounddevice

    from voiceguide.hearing import listener

    assert isinstance(listener.input_available(), bool)

    def broken(*args, **kwargs):
        raise sounddevice.PortAudioError("Error querying device -1")

    monkeypatch.setattr(sounddevice, "query_devices", broken)
    assert listener.input_available() is False
    with pytest.raises(DeviceError) as err:
        listener.listen_once(1)
    assert "\n" not in str(err.value)
    with pytest.raises(DeviceError):
        listener.Listener().start()


# --- The real PortAudio input path, without a sound card ---------------------
#
# This machine has no sound card and no microphone.  So that the listener is
# still tested through sounddevice -> PortAudio -> ALSA, exactly as it records
# from a microphone, an ALSA configuration stands in for the microphone (and
# only for it): the default capture device is ALSA's "file" plugin, whose
# "infile" is read as the captured audio (raw, in the format the application
# asked for: the listener asks for 16-bit mono at 16 kHz), on top of the "null"
# device.  Playback goes to "null".  PortAudio reads the ALSA configuration when
# it starts, so the listener runs in a fresh process with HOME pointing at a
# folder holding this ~/.asoundrc.

ASOUNDRC = """\
# Stand-in for the microphone: capture reads {infile} (raw S16_LE, 16 kHz, mono).
pcm.!default {{
    type asym
    playback.pcm "null"
    capture.pcm "voiceguide_mic"
}}
pcm.voiceguide_mic {{
    type plug
    slave {{
        pcm "voiceguide_file"
        format S16_LE
        rate 16000
        channels 1
    }}
}}
pcm.voiceguide_file {{
    type file
    slave.pcm "null"
    file "/dev/null"
    infile "{infile}"
    format "raw"
}}
"""

CHILD = textwrap.dedent("""
    import sys, queue
    from voiceguide.hearing.listener import Listener, listen_once, input_available
    mode = sys.argv[1]
    print("available", input_available(), flush=True)
    if mode == "once":
        print("once", listen_once(5).word, flush=True)
    elif mode == "listen":
        heard = queue.Queue()
        with Listener(heard.put):
            print("heard", heard.get(timeout=30).word, flush=True)
    elif mode == "muted":
        heard = queue.Queue()
        listener = Listener(heard.put)
        listener.mute()
        with listener:
            try:
                print("heard", heard.get(timeout=3).word, flush=True)
            except queue.Empty:
                print("heard nothing", flush=True)
""")


@pytest.fixture(scope="module")
def alsa_home(tmp_path_factory):
    if not sys.platform.startswith("linux"):
        pytest.skip("the stand-in microphone is an ALSA configuration")
    if not (voice_samples.espeak_available() and shutil.which("sox")):
        pytest.skip("espeak-ng and sox are needed to make the recording")
    folder = tmp_path_factory.mktemp("alsa")
    wav = folder / "stop.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), "-v", "en-us+klatt", "-s", "150", "stop"],
                   check=True)
    raw = folder / "microphone.raw"
    # 1 s of room, the word, 2 s of room; as the raw format the capture reads
    subprocess.run(["sox", str(wav), "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer",
                    "-L", "-t", "raw", str(raw), "pad", "1", "2"], check=True)
    home = folder / "home"
    home.mkdir()
    (home / ".asoundrc").write_text(ASOUNDRC.format(infile=raw))
    return home


def _run_child(home: Path, mode: str) -> str:
    env = dict(os.environ, HOME=str(home))
    env.pop("ALSA_CONFIG_PATH", None)
    root = Path(__file__).resolve().parent.parent
    env["PYTHONPATH"] = str(root) + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, "-c", CHILD, mode], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_listener_hears_stop_through_portaudio(alsa_home):
    out = _run_child(alsa_home, "listen")
    assert "available True" in out
    assert "heard stop" in out


def test_listen_once_hears_stop_through_portaudio(alsa_home):
    out = _run_child(alsa_home, "once")
    assert "once stop" in out


def test_muted_listener_hears_nothing_through_portaudio(alsa_home):
    out = _run_child(alsa_home, "muted")
    assert "heard nothing" in out
