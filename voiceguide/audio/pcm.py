"""Conversions between 16-bit PCM samples and floats in -1..1: the one place for them.

Every conversion here is sample-exact as the code did it before it was
gathered here (exports and clips are compared byte for byte), so where two
parts of voiceguide convert differently, each keeps its own variant, under a
name that says how it differs:

* int16 -> float: :func:`to_float` divides by :data:`FULL_SCALE` (32768), so
  -32768 is exactly -1.0 and 32767 just under 1.0;
* float -> int16: multiplied by :data:`PEAK` (32767), then either rounded to
  the nearest integer (:func:`to_int16`, for what is heard or written: the
  exports, the cues) or truncated toward zero (:func:`to_int16_truncated`, what
  the recognizer and the echo canceller were measured with);
  :func:`round_to_int16` rounds values already on the int16 scale (a clip's
  level, where the gain and the scale are one factor);
* bytes: :func:`from_bytes` reads little-endian 16-bit PCM (WAV data, the
  speech engines' output).
"""

from __future__ import annotations

import numpy as np

#: int16 -> float: the divisor (so that -32768 is -1.0).
FULL_SCALE = 32768.0
#: float -> int16: the factor (so that 1.0 is 32767, the largest int16).
PEAK = 32767.0


def to_float(samples: np.ndarray, dtype=np.float32) -> np.ndarray:
    """int16 samples (or values on their scale, of any number type) as floats in
    -1..1: converted to ``dtype``, then divided by :data:`FULL_SCALE` in it."""
    return np.asarray(samples).astype(dtype) / FULL_SCALE


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Float samples as int16: clipped to -1..1, times :data:`PEAK`, rounded to
    the nearest integer (halves to even), all in the samples' own float type
    (so -1.0 is -32767). ``samples`` is left as it was."""
    x = np.clip(samples, -1.0, 1.0)
    np.multiply(x, PEAK, out=x)
    np.rint(x, out=x)
    return x.astype(np.int16)


def to_int16_truncated(samples: np.ndarray) -> np.ndarray:
    """Float samples as int16: clipped to -1..1, times :data:`PEAK`, truncated
    toward zero (the recognizer's input and the echo canceller's reference)."""
    return (np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)


def round_to_int16(values: np.ndarray) -> np.ndarray:
    """Floats already on the int16 scale as int16: rounded to the nearest integer
    (halves to even), then clipped to -32768..32767."""
    x = np.round(values)
    np.clip(x, -32768, 32767, out=x)
    return x.astype(np.int16)


def from_bytes(data) -> np.ndarray:
    """Little-endian 16-bit PCM (bytes or any buffer) as an int16 array of its own,
    in the machine's byte order."""
    return np.frombuffer(data, dtype="<i2").astype(np.int16)
