"""A simulated room: the guide's voice comes back into the microphone.

The microphone hears what the player sent, ``delay`` seconds after it was
heard at the loudspeaker (the sound's path), through a room's impulse
response (a short room, or a reverberant one), ``echo_db`` louder than the
user, plus the user's words and steady noise. :func:`offline` writes the
player's output into a real :class:`~voiceguide.hearing.echo.ReferenceTap`, stamped
on a virtual clock, and feeds the microphone blocks to a real
:class:`~voiceguide.hearing.bargein.BargeIn` (real speexdsp, real PocketSphinx),
faster than real time, so whole routines fit in a test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from voiceguide.audio import pcm

MIC_RATE = 16000
BLOCK = 480                     # the listener's 30 ms block at 16 kHz


def impulse_response(rate: int, seed: int = 7, *, rt60: float | None = None,
                     direct_to_reverb_db: float = -6.0) -> np.ndarray:
    """A room's path from the loudspeaker to the microphone.

    By default a short room: a direct path and 50 ms of exponentially decaying
    reflections (it dies away by 60 dB in 83 ms). With ``rt60``, a reverberant
    one: reflections that die away by 60 dB in ``rt60`` seconds, carrying
    ``-direct_to_reverb_db`` dB more energy than the direct sound (a loudspeaker
    a metre or two from the microphone; a furnished living room has an
    ``rt60`` of 0.4-0.6 s).
    """
    rng = np.random.default_rng(seed)
    if rt60 is None:
        t = np.arange(int(0.05 * rate))
        impulse = rng.normal(0, 1, len(t)) * np.exp(-t / (0.012 * rate))
        impulse[0] = 3.0
    else:
        t = np.arange(1, int(1.2 * rt60 * rate))
        tail = rng.normal(0, 1, len(t)) * np.exp(-t * math.log(1000) / (rt60 * rate))
        tail *= np.sqrt(10 ** (-direct_to_reverb_db / 10) / np.sum(tail ** 2))
        impulse = np.concatenate([[1.0], tail])
    return impulse / np.sqrt(np.sum(impulse ** 2))


def loudness(x: np.ndarray) -> float:
    """RMS of the part of ``x`` that is not near-silent (speech level)."""
    x = np.asarray(x, dtype=np.float64)
    if not x.any():
        return 0.0
    return float(np.sqrt(np.mean(x[np.abs(x) > 0.01 * np.max(np.abs(x))] ** 2)))


def speech_level(played: np.ndarray) -> float:
    """The level of the guide's speech in a rendered routine (its louder half)."""
    frames = np.asarray(played[:len(played) // 1024 * 1024], np.float64).reshape(-1, 1024)
    rms = np.sqrt(np.mean(frames ** 2, axis=1))
    voiced = rms[rms > 0.01]
    return float(np.median(voiced)) if len(voiced) else 0.0


def as_played(name: str) -> tuple[np.ndarray, tuple]:
    """Routine ``name`` as the player sends it (float32, from the one renderer),
    and the spans of the lines in which the guide says a stop word (which the
    player marks in the tap): the arguments :func:`offline` takes."""
    from voiceguide.session import prepare as preparing
    from voiceguide.audio.output import stop_word_spans

    prepared = preparing.prepare_named(name, {})
    played = np.concatenate(list(prepared.renderer(prepared.timeline).blocks()))
    return played.astype(np.float32), stop_word_spans(prepared.timeline)


@dataclass
class Result:
    """What the barge-in made of one simulated session."""

    answers: list = field(default_factory=list)      # (time in s, Heard)
    dropped_as_echo: int = 0
    seconds: float = 0.0
    moves: list = field(default_factory=list)        # (time in s, seconds moved) of the reference


def offline(played: np.ndarray, rate: int, user: list[tuple[float, np.ndarray]] = (), *,
            delay: float = 0.03, echo_db: float = 6.0, user_level: float | None = None,
            noise_db: float = -60.0, seed: int = 1, speaking=None,
            stop_words=((), ()), rt60: float | None = None, watch=None) -> Result:
    """Run a real BargeIn over a simulated room, faster than real time.

    ``played``: what the player sends (float32 at ``rate``); ``user``: (second,
    16 kHz float samples) the user says; ``speaking(second)``: the player's own
    "I sound" flag (default: never, so only the reference tells);
    ``stop_words``: (starts, ends) in samples of ``played`` of the lines in
    which the guide says a stop word, marked in the tap as the player marks them
    (``voiceguide.audio.output.stop_word_spans``); ``rt60``: a reverberant room
    (see :func:`impulse_response`); ``delay``: seconds after the time the device
    reported that the sound reaches the microphone (negative: before it, the
    device having reported more latency than there is); ``watch(second, bargein)``: called before
    each microphone block is fed, to look at the barge-in's state.
    """
    import soxr

    from voiceguide.hearing import echo
    from voiceguide.hearing.bargein import BargeIn

    rng = np.random.default_rng(seed)
    at16 = soxr.resample(np.asarray(played, np.float64), rate, MIC_RATE)
    lag = int(delay * MIC_RATE)
    moved = np.concatenate([np.zeros(lag), at16]) if lag >= 0 else \
        np.concatenate([at16[-lag:], np.zeros(-lag)])   # heard sooner than the device says
    heard_echo = np.convolve(moved, impulse_response(MIC_RATE, rt60=rt60))[:len(moved)]
    level = user_level if user_level is not None else \
        speech_level(heard_echo) / 10 ** (echo_db / 20)
    mic = heard_echo.copy()
    for second, words in user:
        words = words * level / max(loudness(words), 1e-9)
        start = int(second * MIC_RATE)
        end = min(len(mic), start + len(words))
        mic[start:end] += words[:end - start]
    mic += rng.normal(0, 10 ** (noise_db / 20), len(mic))
    mic16 = pcm.to_int16_truncated(mic)

    tap = echo.ReferenceTap()
    tap.start(rate)
    t0 = 1000.0
    bargein = BargeIn(MIC_RATE, tap)
    result = Result(seconds=len(mic16) / MIC_RATE)
    written = 0
    out_block = 1024
    for i in range(0, len(mic16) - BLOCK + 1, BLOCK):
        second = i / MIC_RATE
        while written < len(played) and written / rate < second + 0.5:
            starts, ends = stop_words
            says = any(a < written + out_block and b > written for a, b in zip(starts, ends))
            tap.write(np.asarray(played[written:written + out_block], np.float32),
                      t0 + written / rate, says)
            written += out_block
        if written >= len(played) and written / rate < second + 0.5:
            tap.write(np.zeros(out_block, np.float32), t0 + written / rate)
            written += out_block
        flag = bool(speaking(second)) if speaking is not None else False
        if watch is not None:
            watch(second, bargein)
        correction = bargein.reference.correction
        answer = bargein.feed(mic16[i:i + BLOCK], t0 + second, flag)
        if bargein.reference.correction != correction:
            result.moves.append((second, bargein.reference.correction - correction))
        if answer is not None:
            result.answers.append((second + BLOCK / MIC_RATE, answer))
    result.dropped_as_echo = bargein.dropped_as_echo
    return result
