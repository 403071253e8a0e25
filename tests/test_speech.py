"""Speech synthesis with the real espeak-ng engine (no mocks except where marked)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from voiceguide import speech
from voiceguide.speech.clipcache import ClipCache
from voiceguide.errors import EXIT_NO_DEVICE, DeviceError, InputError, VoiceguideError
from voiceguide.speech import (MARGIN_SECONDS, Speech, VoiceInfo, finish_clip, list_voices,
                               resolve_voice)
from voiceguide.timing.timeline import SAMPLE_RATE

MARGIN = round(MARGIN_SECONDS * SAMPLE_RATE)
PEAK = round(32767 * 10 ** (-3 / 20))  # -3 dBFS


@pytest.fixture(autouse=True)
def _private_cache_home(tmp_path, monkeypatch):
    """Never touch the real user cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.fixture
def cache(tmp_path):
    return ClipCache(tmp_path / "clips")


@contextlib.contextmanager
def deadline(seconds: float):
    """Fail (instead of hanging forever) if the block takes longer than ``seconds``."""
    def expired(*_):
        raise TimeoutError(f"took longer than {seconds} s (hang?)")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def loud_span(clip: np.ndarray) -> tuple[int, int]:
    loud = np.flatnonzero(np.abs(clip.astype(int)) > np.abs(clip.astype(int)).max() / 100)
    return int(loud[0]), int(loud[-1])


def test_clip_rate_length_and_level(cache):
    with deadline(30), Speech(cache=cache) as sp:
        clip = sp.clip("Breathe in slowly through your nose.")
        assert clip.dtype == np.int16 and clip.ndim == 1
        seconds = len(clip) / SAMPLE_RATE
        assert 1.0 < seconds < 4.0
        assert sp.seconds("Breathe in slowly through your nose.") == seconds
        # peak-normalized to -3 dBFS
        assert abs(int(np.abs(clip.astype(int)).max()) - PEAK) <= 1
        # near-silence trimmed to the fixed margin at both ends (fades in the margin)
        first, last = loud_span(clip)
        assert abs(first - MARGIN) <= 2 and abs((len(clip) - 1 - last) - MARGIN) <= 2
        assert clip[0] == 0 and clip[-1] == 0
        # the rate is applied: twice as fast is clearly shorter
        fast = Speech(rate=320, cache=cache)
        try:
            quick = fast.clip("Breathe in slowly through your nose.")
        finally:
            fast.close()
        assert len(quick) < 0.7 * len(clip)
        # cached as a standard clip of the same length
        assert cache.length(sp.key("Breathe in slowly through your nose.")) == len(clip)
        assert sp.synthesized == 1


def test_same_text_gives_same_samples(tmp_path):
    """espeak-ng output depends on what the process spoke before; a fresh engine per
    clip makes it deterministic, whatever came before and whichever worker speaks."""
    text = "Now gently lift your left arm, and hold."
    with deadline(40):
        with Speech(cache=ClipCache(tmp_path / "a")) as a:
            first = a.clip(text)
        with Speech(cache=ClipCache(tmp_path / "b")) as b:
            b.prepare([f"Warm up number {n}." for n in range(20)] + [text])
            second = b.clip(text)
    assert np.array_equal(first, second)


def test_second_speech_on_same_cache_synthesizes_nothing(cache):
    texts = [f"Stretch {n}, and relax." for n in range(6)]
    seen = []
    with deadline(30), Speech(cache=cache) as sp:
        sp.prepare(texts, progress=lambda done, total: seen.append((done, total)))
        lengths = [sp.seconds(t) for t in texts]
        assert sp.synthesized == 6
    assert seen[0] == (0, 6) and seen[-1] == (6, 6) and len(seen) == 7
    with Speech(cache=cache) as again:
        assert again.missing(texts + ["Something new."]) == ["Something new."]
        again.prepare(texts)
        assert [again.seconds(t) for t in texts] == lengths
        assert again.synthesized == 0
        assert again._pool.started == 0  # no worker process was even started


def test_300_texts_no_hang_no_output(cache, capfd):
    texts = [f"Hold position {n} for {n % 7 + 2} breaths." for n in range(300)]
    with deadline(90), Speech(cache=cache) as sp:
        sp.prepare(texts)
        assert sp.synthesized == 300
        start = time.perf_counter()
        total = sum(sp.seconds(t) for t in texts)
        assert time.perf_counter() - start < 1.0  # header reads only
        assert total > 300 * 0.5
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert cache.info()["clips"] == 300


def test_truncated_clip_is_resynthesized(cache):
    text = "Roll your shoulders back."
    with deadline(30), Speech(cache=cache) as sp:
        good = sp.clip(text)
        path = cache.path(sp.key(text))
        path.write_bytes(path.read_bytes()[:1000])  # a clip cut short on disk
    with Speech(cache=cache) as sp:
        assert sp.missing([text]) == [text]
        assert sp.seconds(text) == len(good) / SAMPLE_RATE
        assert sp.synthesized == 1
        assert np.array_equal(cache.get(sp.key(text)), good)


def test_stray_temp_file_is_ignored(cache):
    text = "Relax your jaw."
    with deadline(30), Speech(cache=cache) as sp:
        k = sp.key(text)
        cache.root.mkdir(parents=True, exist_ok=True)
        stray = cache.root / f".{k}.999.0badf00d.tmp"
        stray.write_bytes(b"RIFF\x00\x00")
        assert sp.missing([text]) == [text]
        clip = sp.clip(text)
        assert sp.synthesized == 1 and len(clip) > 2 * MARGIN
    assert cache.info()["clips"] == 1
    assert cache.clear() == 1 and not stray.exists()


def test_blank_text_is_short_silence(cache):
    with Speech(cache=cache) as sp:
        assert sp.missing(["", "   "]) == []
        assert not sp.clip("  ").any() and sp.seconds("") == 2 * MARGIN / SAMPLE_RATE
        assert sp.synthesized == 0


def test_worker_killed_mid_run_is_replaced(cache):
    texts = [f"Gentle twist number {n}." for n in range(40)]
    killed = []

    def progress(done, total):
        if done == 3 and not killed:
            worker = sp._pool.workers[0]
            os.killpg(worker.proc.pid, signal.SIGKILL)
            killed.append(worker)

    with deadline(60), Speech(cache=cache) as sp:
        sp.prepare(texts, progress)
        assert killed and sp.missing(texts) == []


def test_hung_synthesis_is_killed_and_reported(cache):
    # a per-clip timeout far too short for any clip: every attempt is killed
    with deadline(60), Speech(cache=cache, clip_timeout=0.0005) as sp:
        with pytest.raises(VoiceguideError, match="hangs or crashes"):
            sp.clip("This can never finish in half a millisecond.")
        assert cache.info()["clips"] == 0


def test_list_and_resolve_voices():
    with deadline(30):
        voices = list_voices()
    assert voices and all(isinstance(v, VoiceInfo) for v in voices)
    ids = {v.id for v in voices}
    assert "gmw/en-us" in ids
    assert resolve_voice("gmw/en-us") == "gmw/en-us"
    assert resolve_voice("English (America)") == "gmw/en-us"
    assert resolve_voice("AMERICA") == "gmw/en-us"  # case-insensitive fragment
    assert resolve_voice("english") == "gmw/en"  # ambiguous: the default voice wins
    with pytest.raises(InputError) as err:
        resolve_voice("Englsh (Amerca)")
    message = str(err.value)
    assert "\n" not in message and "English (America)" in message


def test_unknown_voice_id_is_an_input_error(cache):
    with deadline(30), Speech(voice="zz/no-such-voice", cache=cache) as sp:
        with pytest.raises(InputError, match="no-such-voice"):
            sp.clip("Hello.")


def test_chosen_voice_is_used(cache):
    with deadline(30):
        with Speech(voice="gmw/en-us", cache=cache) as us, Speech(cache=cache) as default:
            assert not np.array_equal(us.clip("Tomato, water."),
                                      default.clip("Tomato, water."))


def test_engine_missing_is_a_device_error():
    # The one mock: this machine has espeak-ng, so a missing engine is simulated by
    # naming a pyttsx3 driver that does not exist (the documented ``driver`` keyword).
    # It takes the same up-front path as a missing libespeak-ng: the driver module fails
    # to import, before any process is started.
    with pytest.raises(DeviceError) as err:
        Speech(driver="no_such_driver")
    message = str(err.value)
    assert err.value.exit_code == EXIT_NO_DEVICE
    assert "\n" not in message and "Traceback" not in message
    assert "sudo apt-get install espeak-ng" in message
    with pytest.raises(DeviceError):
        list_voices(driver="no_such_driver")


def test_finish_clip_resamples_trims_and_normalizes():
    rate = 44100
    t = np.arange(rate) / rate
    burst = (0.2 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)
    raw = np.concatenate([np.zeros(rate // 2, np.int16), burst, np.zeros(rate, np.int16)])
    stereo = np.stack([raw, raw], axis=1)
    clip = finish_clip(stereo, rate)
    assert clip.dtype == np.int16
    assert abs(len(clip) - (SAMPLE_RATE + 2 * MARGIN)) <= 4
    assert abs(int(np.abs(clip.astype(int)).max()) - PEAK) <= 1
    assert np.array_equal(finish_clip(stereo, rate), clip)
    assert len(finish_clip(np.zeros((500, 1), np.int16), SAMPLE_RATE)) == 2 * MARGIN


def test_speech_module_has_docstrings():
    public = [Speech, Speech.prepare, Speech.clip, Speech.seconds, Speech.missing,
              Speech.close, list_voices, resolve_voice, VoiceInfo, speech.check_engine]
    assert all(obj.__doc__ for obj in public)


ORDER_TEXTS = ["Breathe in slowly.", "Now hold it, two, three.", "And let it all go."]

_OTHER_PROCESS = """
import sys
from voiceguide.speech.clipcache import ClipCache
from voiceguide.speech import Speech
texts = sys.argv[2:]
with Speech(cache=ClipCache(sys.argv[1])) as sp:  # two workers, other clips in between
    sp.prepare([f"Filler number {n}, and relax." for n in range(20)] + texts)
"""


def test_same_samples_in_any_order_and_any_process(tmp_path):
    """Determinism: A, B, C in one Speech and C, B, A in another (each with one worker,
    so each worker really speaks them in that order) and B, A, C in another process with
    two workers and other clips in between give the same samples, byte for byte."""
    a, b, c = ORDER_TEXTS
    with deadline(90):
        with Speech(cache=ClipCache(tmp_path / "abc"), workers=1) as first:
            first.prepare([a, b, c])
            forward = {t: first.clip(t) for t in ORDER_TEXTS}
            keys = {t: first.key(t) for t in ORDER_TEXTS}
        with Speech(cache=ClipCache(tmp_path / "cba"), workers=1) as second:
            second.prepare([c, b, a])
            backward = {t: second.clip(t) for t in ORDER_TEXTS}
            assert second.synthesized == 3
        other = subprocess.run([sys.executable, "-c", _OTHER_PROCESS, str(tmp_path / "bac"),
                                b, a, c], check=True, timeout=60, capture_output=True)
    assert other.stdout == b"" and other.stderr == b""
    for t in ORDER_TEXTS:
        assert np.array_equal(forward[t], backward[t]), t
        files = [ClipCache(tmp_path / name).path(keys[t]).read_bytes()
                 for name in ("abc", "cba", "bac")]
        assert files[0] == files[1] == files[2], t
    assert len({len(clip) for clip in forward.values()}) == 3  # three different clips


def test_voice_and_rate_changes_give_fresh_engine_state(tmp_path):
    """A pool asked for another voice or rate sets the engine up anew for it: the same
    samples as a fresh Speech with that voice or rate, before and after the change."""
    text = "Lift both arms, and hold."
    with deadline(90):
        with Speech(rate=230, cache=ClipCache(tmp_path / "fast")) as sp:
            fast = sp.clip(text)
        with Speech(voice="gmw/en-us", cache=ClipCache(tmp_path / "us")) as sp:
            us = sp.clip(text)
        got = {}
        with Speech(cache=ClipCache(tmp_path / "default"), workers=1) as sp:
            plain = sp.clip(text)
            pool, started = sp._pool, sp._pool.started
            for label, voice, rate in (("fast", None, 230), ("us", "gmw/en-us", 160),
                                       ("plain", None, 160)):
                pool.run({label: text}, voice, rate, got.__setitem__)
            if pool.mode == "template":
                assert pool.started == started + 3  # one engine state per voice and rate
    assert not np.array_equal(fast, plain) and not np.array_equal(us, plain)
    assert np.array_equal(got["fast"], fast)
    assert np.array_equal(got["us"], us)
    assert np.array_equal(got["plain"], plain)


def test_clips_sent_ahead_come_back_to_the_right_keys(cache):
    """Jobs sent to the workers ahead of their answers are matched to the right keys:
    some of the texts, synthesized alone, give the same clips."""
    texts = [f"Count {n}, then {'rest' if n % 2 else 'move'}." for n in range(24)]
    with deadline(90), Speech(cache=cache) as sp:
        sp.prepare(texts)
        together = {t: sp.clip(t) for t in texts}
    for t in texts[::5]:
        alone = ClipCache(cache.root.parent / f"alone-{texts.index(t)}")
        with Speech(cache=alone, workers=1) as single:
            assert np.array_equal(single.clip(t), together[t]), t


def test_a_clip_asked_for_while_another_thread_prepares_comes_back(cache):
    """The player's thread may ask for one clip (an acknowledgement) while the
    background thread synthesizes the routine's: both get their own clips, each the
    same as synthesized alone (the two once took each other's answers: a KeyError)."""
    import threading
    batch = [f"Breathe in slowly, number {n}." for n in range(16)]
    alone_texts = [f"Thank you, that was {n}." for n in range(4)]
    errors: list[BaseException] = []
    with deadline(120), Speech(cache=cache) as sp:
        def background():
            try:
                sp.prepare(batch, levelled=True)
            except BaseException as exc:  # reported on the test's thread
                errors.append(exc)

        thread = threading.Thread(target=background)
        thread.start()
        time.sleep(0.2)   # the batch is under way
        clips = {t: sp.clip(t) for t in alone_texts}
        thread.join()
        assert not errors, errors
        assert sp.missing(batch + alone_texts) == []
    with Speech(cache=ClipCache(cache.root.parent / "alone"), workers=1) as single:
        for t in alone_texts[:2]:
            assert np.array_equal(single.clip(t), clips[t]), t
