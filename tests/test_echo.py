"""Echo cancellation (voiceguide.hearing.echo, speexdsp): a room simulation.

The microphone hears the guide's own voice through a simulated room (40 ms of
output latency, a short random room impulse response), 6 dB louder than the
user, who says "stop" in the middle of the guide's sentence; plus a little
noise. The reference is exactly what was played. Real espeak-ng speech, the
real canceller and the real recognizer; the figures are printed (``-s``).
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.room import impulse_response, loudness
from tests.support.voice_samples import spoken
from voiceguide.hearing import echo
from voiceguide.hearing.decoder import to_16k_mono
from voiceguide.hearing.recognizer import recognize

RATE = 16000
GUIDE = ("Breathe in slowly. If you feel sharp pain, numbness or tingling, stop and rest. "
         "Now let your knees fall gently to one side, and hold this position. "
         "Relax your shoulders and breathe out.")

pytestmark = pytest.mark.skipif(not echo.available(), reason="libspeexdsp1 is not installed")


def _say(text: str, voice: str, folder) -> np.ndarray:
    return to_16k_mono(*spoken(text, voice, folder))


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    """(microphone, reference, cleaned, where the user spoke) as int16 at 16 kHz."""
    folder = tmp_path_factory.mktemp("room")
    rng = np.random.default_rng(7)
    reference = np.concatenate([_say(GUIDE, "en", folder), np.zeros(RATE)])
    impulse = impulse_response(RATE)
    delayed = np.concatenate([np.zeros(int(0.04 * RATE)), reference])
    heard_echo = np.convolve(delayed, impulse)[:len(reference)]
    user = _say("stop", "en-us+klatt2", folder)
    user *= loudness(heard_echo) / loudness(user) / 2.0       # the echo is 6 dB louder
    at = int(6.0 * RATE)
    mic = heard_echo.copy()
    mic[at:at + len(user)] += user
    mic += rng.normal(0, loudness(heard_echo) / 100, len(mic))  # noise 40 dB under the echo
    scale = 1.1 * np.max(np.abs(mic)) / 32767
    mic16 = (mic / scale).astype(np.int16)
    ref16 = (reference / scale).astype(np.int16)
    canceller = echo.EchoCanceller(RATE, 160, 0.2)
    cleaned = canceller.process_all(mic16, ref16)
    canceller.close()
    return mic16, ref16, cleaned, (at, at + len(user))


def _reduction_db(before: np.ndarray, after: np.ndarray) -> float:
    before, after = before.astype(float), after.astype(float)
    return 10 * np.log10(np.mean(before ** 2) / (np.mean(after ** 2) + 1e-9))


def test_the_guides_voice_is_cancelled_by_15_db_once_converged(room):
    mic, _, cleaned, (start, _) = room
    reduction = _reduction_db(mic[3 * RATE:start], cleaned[3 * RATE:start])
    print(f"\necho reduced by {reduction:.1f} dB (3 s after the start)")
    assert reduction >= 15.0


def test_stop_under_a_louder_echo_is_heard_after_cancellation(room):
    mic, _, cleaned, (start, end) = room
    window = slice(start - RATE // 3, end + RATE // 3)
    raw, clean = recognize(mic[window], RATE), recognize(cleaned[window], RATE)
    print(f"\nraw: {raw.word} {raw.confidence} {raw.heard!r}; "
          f"cleaned: {clean.word} {clean.confidence} {clean.heard!r}")
    assert clean.word == "stop" and clean.sure


def test_reference_stream_gives_what_was_heard_at_a_time_resampled():
    tap = echo.ReferenceTap(seconds=4.0)
    tap.start(22050)
    signal = np.sin(np.arange(22050 * 5) * 2 * np.pi * 440 / 22050).astype(np.float32)
    block = 1024
    for i in range(0, len(signal) - block, block):   # wraps the 4 s ring
        tap.write(signal[i:i + block], 100.0 + i / 22050)
    stream = echo.ReferenceStream(tap, 16000, lead=0.0)
    # ten 30 ms blocks from 3.5 s into the signal, read one after the other
    got = np.concatenate([stream.next(103.5 + k * 0.03, 480) for k in range(10)])
    want = np.sin(2 * np.pi * 440 * (3.5 + np.arange(4800) / 16000))
    assert np.abs(got[100:] - want[100:]).max() < 0.01    # after the resampler's first samples
    assert abs(tap.position_at(101.0) - 22050) < 1e-6
    assert not tap.samples(int(22050 * 5.5), 100).any()   # not played (yet): silence
    assert not tap.samples(0, 100).any()                  # no longer kept: silence
    assert echo.ReferenceTap().position_at(5.0) is None   # nothing played at all


def _anchors_with_stamps_off_by(off) -> int:
    """How often a ReferenceStream moves when the capture times it is given are
    ``off(seconds)`` away from the true ones (30 ms blocks over 8 s)."""
    tap = echo.ReferenceTap()
    tap.start(22050)
    block = 1024
    for i in range(0, 22050 * 10, block):
        tap.write(np.zeros(block, np.float32), 100.0 + i / 22050)
    stream = echo.ReferenceStream(tap, 16000, lead=0.05)
    for k in range(int(8 / 0.03)):
        stream.next(101.0 + k * 0.03 + off(k * 0.03), 480)
    return stream.anchors


def test_reference_stream_leaves_a_small_drift_of_the_stamps_to_the_canceller():
    """On a machine kept busy by other programs the capture times wandered by
    15-27 ms while the echo stayed where it was: the reference stays put (it
    anchors once, at the start), and each move would make the canceller learn
    the room again."""
    assert _anchors_with_stamps_off_by(lambda t: 0.025 * np.sin(t)) == 1
    assert _anchors_with_stamps_off_by(lambda t: 0.02 * (t > 3)) == 1     # echo a little sooner
    assert _anchors_with_stamps_off_by(lambda t: -0.05 * (t > 3)) == 1    # a little later


def test_reference_stream_follows_a_drift_that_takes_the_echo_out_of_reach():
    """A drift that would put the echo before its reference, or push the room's
    echo past the filter's tail, moves the reference (within 2 s of its start)."""
    assert _anchors_with_stamps_off_by(lambda t: 0.04 * (t > 3)) == 2     # echo sooner
    assert _anchors_with_stamps_off_by(lambda t: -0.08 * (t > 3)) == 2    # echo later


@pytest.fixture(scope="module")
def voices(tmp_path_factory):
    """The guide's words and a person's, float at 16 kHz."""
    folder = tmp_path_factory.mktemp("voices")
    person = _say("Is this right? I think my knees are not quite where they should be, "
                  "and my back feels a little better now.", "en-us+klatt3", folder)
    return _say(GUIDE, "en", folder), person


def _delays_found(guide: np.ndarray, mic: np.ndarray) -> list[float]:
    """What an EchoDelay fed the microphone and the guide (30 ms blocks) reports."""
    estimate, found, block = echo.EchoDelay(RATE), [], 480
    mic16 = (np.clip(mic, -1, 1) * 32767).astype(np.int16)
    for i in range(0, min(len(mic), len(guide)) - block, block):
        delay = estimate.feed(mic16[i:i + block], guide[i:i + block].astype(np.float32))
        if delay is not None:
            found.append(delay)
    return found


@pytest.mark.parametrize("delay", [-0.2, 0.05, 0.35, 0.8])
def test_echo_delay_is_measured_from_the_sound(voices, delay):
    """The echo through a room, 0.2 s before its reference (a device that reports
    more latency than it has) to 0.8 s after it (a Bluetooth speaker that reports
    less), with a person speaking 6 dB under it half of the time, and noise."""
    guide, person = voices
    lag = int(delay * RATE)
    moved = np.concatenate([np.zeros(lag), guide]) if lag >= 0 else \
        np.concatenate([guide[-lag:], np.zeros(-lag)])
    mic = np.convolve(moved, impulse_response(RATE))[:len(guide)] * 0.5
    words = person * loudness(mic) / loudness(person) / 2.0
    mic[RATE * 3:RATE * 3 + len(words)] += words[:len(mic) - RATE * 3]
    mic += np.random.default_rng(3).normal(0, loudness(mic) / 100, len(mic))
    found = _delays_found(guide, mic)
    print(f"\necho {delay:+.2f} s after its reference: measured {found}")
    assert found and all(abs(d - delay) <= 0.005 for d in found)


def test_echo_delay_finds_nothing_without_an_echo(voices):
    """Headphones: the microphone hears the person and the room's noise, never
    the guide; no delay is ever reported (which would move the reference)."""
    guide, person = voices
    mic = np.zeros(len(guide))
    mic[RATE:RATE + len(person)] += person[:len(guide) - RATE] * 0.3
    mic += np.random.default_rng(4).normal(0, 0.003, len(mic))
    assert _delays_found(guide, mic) == []
