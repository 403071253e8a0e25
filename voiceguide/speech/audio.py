"""Clip finishing: raw engine output → a tight, level clip at the timeline's rate.

Runs in the workers (or in the parent for a template worker's raw samples). Every
clip is mono int16 at :data:`~voiceguide.timing.timeline.SAMPLE_RATE`, with leading and
trailing near-silence trimmed to exactly :data:`MARGIN_SECONDS`, faded at both ends
and peak-normalized to :data:`PEAK_DBFS`. Deterministic: the same input gives the
same samples, byte for byte.
"""

from __future__ import annotations

import numpy as np

from voiceguide.audio import pcm
from voiceguide.timing.timeline import SAMPLE_RATE

#: Near-silence kept before the first and after the last audible sample.
MARGIN_SECONDS = 0.030
#: Level of a clip's highest peak.
PEAK_DBFS = -3.0
#: Samples quieter than this, relative to the clip's peak, count as silence when trimming.
SILENCE_DB = -40.0
#: Length of the fade applied at each end of a clip (inside the margin).
FADE_SECONDS = 0.005

MARGIN = round(MARGIN_SECONDS * SAMPLE_RATE)
_FADE = round(FADE_SECONDS * SAMPLE_RATE)


def silence_clip() -> np.ndarray:
    """The clip of blank text (or of an engine that said nothing): two margins of quiet."""
    return np.zeros(2 * MARGIN, dtype=np.int16)


def resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    """A 1-D float signal resampled from ``src`` to ``dst`` Hz with libsoxr (its high
    quality setting: linear phase, no aliasing audible in speech). Deterministic."""
    if len(x) == 0:
        return np.zeros(0)
    import soxr

    return np.asarray(soxr.resample(np.ascontiguousarray(x, dtype=np.float64), src, dst,
                                    quality="HQ"), dtype=np.float64)


def finish_clip(samples: np.ndarray, rate: int) -> np.ndarray:
    """Turn raw engine output into a clip: mono int16 at SAMPLE_RATE, trimmed, level.

    ``samples`` is int16 or float (-1..1), shaped (frames,) or (frames, channels).
    Channels are averaged, the signal resampled to SAMPLE_RATE if needed (once, with
    :func:`resample`), everything before the first and after the last sample louder
    than :data:`SILENCE_DB` below the peak is cut to exactly :data:`MARGIN_SECONDS`
    (zero-padded if the engine gave less), both ends fade over :data:`FADE_SECONDS`,
    and the peak is scaled to :data:`PEAK_DBFS`. A silent input gives ``2 * margin``
    samples of silence. Deterministic.
    """
    raw = np.asarray(samples)
    if raw.ndim == 2 and raw.shape[1] == 1:
        raw = raw[:, 0]  # mono: averaging one channel changes nothing
    if (raw.ndim == 1 and raw.dtype.kind == "i" and raw.itemsize <= 2
            and (rate == SAMPLE_RATE or not len(raw))):
        return _finish_mono16(raw)
    x = np.asarray(raw, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if raw.dtype.kind in "iu":
        x = pcm.to_float(x, np.float64)
    if rate != SAMPLE_RATE and len(x):
        x = resample(x, int(rate), SAMPLE_RATE)
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak < 1e-4:  # nothing audible
        return silence_clip()
    loud = np.flatnonzero(np.abs(x) > peak * 10 ** (SILENCE_DB / 20))
    first, last = int(loud[0]), int(loud[-1])
    start, end = first - MARGIN, last + 1 + MARGIN
    y = np.zeros(end - start)
    lo, hi = max(start, 0), min(end, len(x))
    y[lo - start:hi - start] = x[lo:hi]
    return _fade_and_level(y, peak)


def _finish_mono16(s: np.ndarray) -> np.ndarray:
    """:func:`finish_clip` for mono 16-bit samples already at SAMPLE_RATE (what espeak-ng
    gives): the same arithmetic, bit for bit, but the peak and the loud span are found
    on the integers and only the kept span is converted to float (several times faster).
    """
    top = max(int(s.max()), -int(s.min())) if len(s) else 0
    peak = top / pcm.FULL_SCALE
    if peak < 1e-4:  # nothing audible
        return silence_clip()
    # The general path tests |s / 32768| > (top / 32768) * t. Scaling by a power of two
    # is exact in binary floating point, so that is exactly |s| > top * t.
    limit = top * 10 ** (SILENCE_DB / 20)
    loud = (s > limit) | (s < -limit)
    first = int(np.argmax(loud))
    last = len(s) - 1 - int(np.argmax(loud[::-1]))
    start, end = first - MARGIN, last + 1 + MARGIN
    y = np.zeros(end - start)
    lo, hi = max(start, 0), min(end, len(s))
    y[lo - start:hi - start] = pcm.to_float(s[lo:hi], np.float64)
    return _fade_and_level(y, peak)


def _fade_and_level(y: np.ndarray, peak: float) -> np.ndarray:
    """Fade both ends of ``y`` (the kept span with its margins, float, changed in place)
    and scale ``peak`` to PEAK_DBFS: the clip as int16."""
    ramp = np.linspace(0.0, 1.0, _FADE, endpoint=False)
    y[:_FADE] *= ramp
    y[len(y) - _FADE:] *= ramp[::-1]
    y *= (10 ** (PEAK_DBFS / 20)) * pcm.PEAK / peak
    return pcm.round_to_int16(y)


def read_audio(path: str) -> tuple[np.ndarray, int]:
    """Read an engine's output file: int16 samples (frames, channels) and the rate."""
    import wave

    try:
        with wave.open(path, "rb") as w:
            if w.getsampwidth() == 2 and w.getcomptype() == "NONE":
                channels, rate = w.getnchannels(), w.getframerate()
                return pcm.from_bytes(w.readframes(w.getnframes())).reshape(-1, channels), rate
    except (wave.Error, EOFError):
        pass
    import soundfile  # AIFF (macOS), other WAV flavours (Windows)

    data, rate = soundfile.read(path, dtype="int16", always_2d=True)
    return data, int(rate)
