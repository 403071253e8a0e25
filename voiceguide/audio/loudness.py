"""Loudness: every clip of speech is brought to one loudness, whatever engine spoke it.

Clips come from the engines peak-normalized, and peak says little about how loud
speech sounds: a robotic formant voice and a neural voice at the same peak differ by
several dB. So each clip is *levelled* (:func:`level`): its loudness is measured as in
ITU-R BS.1770-4 (K-weighting, 400 ms blocks with 75 % overlap, the absolute gate at
-70 LUFS and the relative one 10 LU below), it is brought to :data:`SPEECH_LUFS`, and
the few peaks that would pass :data:`PEAK_CEILING_DBFS` are held down by a
look-ahead limiter (:func:`limit`). Levelled clips are what the renderer plays and
exports (so the two stay identical, sample for sample), cached beside the clips.
An export then lands at about -17 LUFS integrated (spoken-word loudness for phones
and speakers), with true peaks below -1 dBTP.

The K-weighting filters are the ones BS.1770 gives for 48 kHz, designed for the
clip's own rate from their analog parameters (as pyloudnorm does); they are applied
in the frequency domain (one FFT a clip), so no filtering library is needed.
"""

from __future__ import annotations

import functools

import numpy as np

from voiceguide.audio import pcm

#: The loudness each clip of speech is brought to (LUFS, BS.1770 integrated).
SPEECH_LUFS = -17.0
#: Where an export lands (LUFS integrated; measured, the routines' quiet parts and
#: cues take it a little below the speech itself).
EXPORT_LUFS = -17.5
#: No clip's sample peak goes above this (dBFS): room for the true (inter-sample)
#: peak and for lossy encoders, under -1 dBTP.
PEAK_CEILING_DBFS = -2.0
#: How far (each way) the limiter looks for a peak when it lowers the gain.
LIMIT_SECONDS = 0.008
#: Changes whenever levelling changes (part of a levelled clip's cache key).
VERSION = "bs1770 -17 LUFS, limit -2 dBFS 8 ms, make-up, v3"
#: Cues keep their place beside speech: they are raised as much as speech was
#: (from the old -5 dBFS speech peaks to :data:`SPEECH_LUFS`).
CUE_GAIN = 10 ** (6.0 / 20)

_BLOCK_SECONDS = 0.400
_STEP_SECONDS = 0.100
_ABSOLUTE_GATE = -70.0
_RELATIVE_GATE = -10.0
# padding against the FFT's wrap-around: the high-pass filter's response fades in ~50 ms
_PAD_SECONDS = 0.25


def _biquad_power(b: tuple, a: tuple, cos1: np.ndarray, cos2: np.ndarray) -> np.ndarray:
    """|H|^2 of a biquad at the frequencies whose cos(w) and cos(2w) are given: for
    real coefficients |b0 + b1 z^-1 + b2 z^-2|^2 = b0²+b1²+b2² + 2(b0b1+b1b2)cos w +
    2 b0b2 cos 2w, and the same for the denominator."""
    def power(c: tuple) -> np.ndarray:
        return (c[0] ** 2 + c[1] ** 2 + c[2] ** 2 + 2 * (c[0] * c[1] + c[1] * c[2]) * cos1
                + 2 * c[0] * c[2] * cos2)

    return power(b) / power(a)


def fast_length(n: int) -> int:
    """The smallest length of at least ``n`` with no prime factor above 5 (quick FFTs)."""
    best = 1 << max(0, (n - 1).bit_length())
    power5 = 1
    while power5 < best:
        power35 = power5
        while power35 < best:
            size = power35
            while size < n:
                size *= 2
            best = min(best, size)
            power35 *= 3
        power5 *= 5
    return best


@functools.lru_cache(maxsize=64)
def _k_weighting(rate: int, n_fft: int) -> np.ndarray:
    """The K-weighting filters' amplitude response at the bins of an ``n_fft`` real FFT
    (zero phase: only the energy is measured)."""
    w = np.linspace(0.0, np.pi, n_fft // 2 + 1)
    cos1, cos2 = np.cos(w), np.cos(2 * w)
    # stage 1: high shelf, +4 dB above about 1.5 kHz
    gain_db, fc, q = 4.0, 1500.0, 1 / np.sqrt(2.0)
    big_a = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * fc / rate
    alpha, cos = np.sin(w0) / (2 * q), np.cos(w0)
    root = 2 * np.sqrt(big_a) * alpha
    shelf = _biquad_power(
        (big_a * ((big_a + 1) + (big_a - 1) * cos + root),
         -2 * big_a * ((big_a - 1) + (big_a + 1) * cos),
         big_a * ((big_a + 1) + (big_a - 1) * cos - root)),
        ((big_a + 1) - (big_a - 1) * cos + root,
         2 * ((big_a - 1) - (big_a + 1) * cos),
         (big_a + 1) - (big_a - 1) * cos - root), cos1, cos2)
    # stage 2: high pass at 38 Hz
    fc, q = 38.0, 0.5
    w0 = 2 * np.pi * fc / rate
    alpha, cos = np.sin(w0) / (2 * q), np.cos(w0)
    highpass = _biquad_power(((1 + cos) / 2, -(1 + cos), (1 + cos) / 2),
                             (1 + alpha, -2 * cos, 1 - alpha), cos1, cos2)
    return np.sqrt(np.maximum(shelf * highpass, 0.0)).astype(np.float32)


def integrated_loudness(samples: np.ndarray, rate: int) -> float:
    """BS.1770-4 integrated loudness of a mono float signal, in LUFS (-inf if silent).

    A signal shorter than one block is measured as one block.
    """
    x = np.asarray(samples, dtype=np.float64)
    if not len(x) or not np.any(x):
        return float("-inf")
    pad = int(_PAD_SECONDS * rate)
    n = len(x) + pad
    n_fft = fast_length(n)
    spectrum = np.fft.rfft(x.astype(np.float32), n_fft)  # single precision: twice as fast
    spectrum *= _k_weighting(rate, n_fft)
    weighted = np.fft.irfft(spectrum, n_fft)[:len(x)].astype(np.float64)
    block, step = int(_BLOCK_SECONDS * rate), int(_STEP_SECONDS * rate)
    energy = np.concatenate([[0.0], np.cumsum(weighted * weighted)])
    if len(x) <= block:
        powers = np.array([energy[-1] / len(x)])
    else:
        starts = np.arange(0, len(x) - block + 1, step)
        powers = (energy[starts + block] - energy[starts]) / block
    return _gated(powers)


def _gated(powers: np.ndarray) -> float:
    """The gated mean of block powers, as loudness (LUFS)."""
    with np.errstate(divide="ignore"):
        loud = -0.691 + 10 * np.log10(powers)
    kept = powers[loud > _ABSOLUTE_GATE]
    if not len(kept):
        return float("-inf")
    relative = -0.691 + 10 * np.log10(kept.mean()) + _RELATIVE_GATE
    with np.errstate(divide="ignore"):
        kept = kept[-0.691 + 10 * np.log10(kept) > relative]
    return float(-0.691 + 10 * np.log10(kept.mean()))


def _min_filter(a: np.ndarray, radius: int) -> np.ndarray:
    """The minimum of ``a`` over a centred window of ``2 * radius + 1`` samples (values
    beyond the ends count as 1.0), in linear time (van Herk / Gil-Werman)."""
    width = 2 * radius + 1
    n = len(a)
    tail = radius + (-(n + 2 * radius)) % width
    blocks = np.pad(a, (radius, tail), constant_values=1.0).reshape(-1, width)
    prefix = np.minimum.accumulate(blocks, axis=1).ravel()
    suffix = np.minimum.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].ravel()
    return np.minimum(suffix[:n], prefix[width - 1:width - 1 + n])


def limit(x: np.ndarray, ceiling: float, rate: int) -> np.ndarray:
    """``x`` with every sample at or below ``ceiling`` (linear), by a smooth gain.

    The gain each sample needs is spread over :data:`LIMIT_SECONDS` on both sides (a
    minimum filter), then smoothed by a moving average as wide: the average of values
    that are each at most the gain needed at its centre is at most that gain, so no
    sample passes the ceiling, and the gain moves without clicks.
    """
    need = np.minimum(1.0, ceiling / np.maximum(np.abs(x), 1e-12))
    if need.min() >= 1.0:
        return x
    radius = max(1, int(LIMIT_SECONDS * rate))
    held = _min_filter(need, radius)
    sums = np.cumsum(np.pad(held, (radius + 1, radius), constant_values=1.0))
    smooth = (sums[2 * radius + 1:] - sums[:-2 * radius - 1]) / (2 * radius + 1)
    return x * np.minimum(smooth, need)


def level(clip: np.ndarray, rate: int) -> np.ndarray:
    """A clip (int16 or float) brought to :data:`SPEECH_LUFS`, its peaks held at
    :data:`PEAK_CEILING_DBFS`: int16, same length. Silence stays silence.
    Deterministic."""
    raw = np.asarray(clip)
    x = pcm.to_float(raw, np.float64) if raw.dtype.kind in "iu" else raw.astype(np.float64)
    loudness = integrated_loudness(x, rate)
    if np.isfinite(loudness):
        ceiling = 10 ** (PEAK_CEILING_DBFS / 20)
        x = x * 10 ** ((SPEECH_LUFS - loudness) / 20)
        limited = limit(x, ceiling, rate)
        # the limiter took some energy away: make up for it once (measured on the
        # samples, not K-weighted: close enough for the few peaks it touches)
        kept = float(np.square(limited).sum()) / max(float(np.square(x).sum()), 1e-30)
        if kept < 0.99:
            limited = limit(x / np.sqrt(kept), ceiling, rate)
        x = limited
    return pcm.round_to_int16(x * pcm.PEAK)
