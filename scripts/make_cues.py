"""Generate the cue sounds in ``audio_cues/`` (one WAV per key of ``CUE_SECONDS``).

Usage, from the repository root::

    python scripts/make_cues.py [OUTPUT_DIR]

OUTPUT_DIR defaults to the repository's ``audio_cues/`` folder. Every file is mono,
16-bit PCM at ``voiceguide.timing.timeline.SAMPLE_RATE`` and has exactly
``round(CUE_SECONDS[name] * SAMPLE_RATE)`` frames.

The sounds are synthesized from sine partials with numpy only; there is no randomness,
so every run writes the same bytes (tests/test_cues.py checks that the committed files
match this script). They are meant for someone lying on the floor with eyes closed:
soft attacks, smooth decays, nothing bright, and a raised-cosine fade at both ends so
the first and last samples are exactly 0 (no clicks).

Levels: speech is normalized to about -3 dBFS peak / -20 dBFS RMS. The cues peak at
about -12 dBFS (the countdown tick at about -18 dBFS); the sustained glides peak a
little lower so that every cue's RMS stays a few dB below the speech.
"""

from __future__ import annotations

import sys
import wave
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT_DIR = REPO_ROOT / "audio_cues"

# Use this repository's voiceguide (the lengths and rate the files must match), even
# when the script runs with an interpreter where voiceguide is not installed.
sys.path.insert(0, str(REPO_ROOT))

from voiceguide.atomic import atomic_path  # noqa: E402
from voiceguide.audio import pcm  # noqa: E402
from voiceguide.timing.timeline import CUE_SECONDS  # noqa: E402
from voiceguide.timing.timeline import SAMPLE_RATE  # noqa: E402

# Note frequencies (Hz), equal temperament, A4 = 440 Hz.
G4, A4, B4, C5, D5, E5, G5 = 392.00, 440.00, 493.88, 523.25, 587.33, 659.26, 783.99

#: Peak level of each cue, in dBFS.
PEAK_DBFS: dict[str, float] = {
    "start": -12.0,
    "end": -12.0,
    "switch": -12.0,
    "tick": -18.0,
    "inhale": -15.0,
    "exhale": -15.0,
    "checkin": -12.0,
}

# Partials of a soft chime: (frequency ratio, relative amplitude, decay-time factor).
# Mostly harmonic for a warm, consonant sound, plus a faint inharmonic partial for a
# touch of bell; the higher partials die away faster, as in a real bell.
CHIME_PARTIALS = (
    (1.0, 1.00, 1.00),
    (2.0, 0.28, 0.55),
    (2.76, 0.06, 0.35),
    (3.0, 0.07, 0.30),
)


def _time(n: int) -> np.ndarray:
    """Times in seconds of ``n`` samples."""
    return np.arange(n, dtype=np.float64) / SAMPLE_RATE


def _raised_cosine(n: int) -> np.ndarray:
    """A rising raised-cosine ramp of ``n`` samples, from exactly 0 to exactly 1."""
    if n <= 1:
        return np.ones(n)
    return 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / (n - 1))


def _fade(x: np.ndarray, fade_in_s: float, fade_out_s: float) -> np.ndarray:
    """Apply raised-cosine fades at both ends; the first and last samples become 0."""
    y = x.copy()
    n_in = max(2, round(fade_in_s * SAMPLE_RATE))
    n_out = max(2, round(fade_out_s * SAMPLE_RATE))
    y[:n_in] *= _raised_cosine(n_in)
    y[-n_out:] *= _raised_cosine(n_out)[::-1]
    return y


def _chime(n: int, freq: float, start_s: float, decay_s: float,
           attack_s: float = 0.012, partials=CHIME_PARTIALS) -> np.ndarray:
    """A bell-like note starting at ``start_s``: soft attack, exponential decay."""
    out = np.zeros(n)
    i0 = round(start_s * SAMPLE_RATE)
    t = _time(n - i0)
    attack = np.minimum(1.0, t / attack_s)
    attack = 0.5 - 0.5 * np.cos(np.pi * attack)  # smooth (raised-cosine) attack
    note = np.zeros(n - i0)
    for ratio, amp, decay_factor in partials:
        note += amp * np.exp(-t / (decay_s * decay_factor)) * np.sin(2 * np.pi * freq * ratio * t)
    out[i0:] = attack * note
    return out


def _glide(n: int, f_from: float, f_to: float) -> np.ndarray:
    """A tone gliding exponentially from ``f_from`` to ``f_to`` with a gentle swell."""
    t = _time(n)
    duration = n / SAMPLE_RATE
    k = np.log(f_to / f_from) / duration
    # Exact phase of f(t) = f_from * exp(k t): 2 pi f_from (exp(k t) - 1) / k.
    phase = 2 * np.pi * f_from * np.expm1(k * t) / k
    tone = np.sin(phase) + 0.12 * np.sin(2 * phase) + 0.04 * np.sin(3 * phase)
    # Swell: rises over the first ~40 %, eases off over the rest (a breath's shape).
    u = t / duration
    swell = np.where(u < 0.4, np.sin(0.5 * np.pi * u / 0.4) ** 2,
                     np.cos(0.5 * np.pi * (u - 0.4) / 0.6) ** 1.5)
    return swell * tone


def _tick(n: int) -> np.ndarray:
    """A soft, short, woody tick."""
    t = _time(n)
    body = np.sin(2 * np.pi * 880.0 * t) + 0.25 * np.sin(2 * np.pi * 1760.0 * t) * np.exp(-t / 0.01)
    attack = 0.5 - 0.5 * np.cos(np.pi * np.minimum(1.0, t / 0.004))
    return attack * np.exp(-t / 0.028) * body


def synthesize(name: str) -> np.ndarray:
    """The cue ``name`` as float64 samples in [-1, 1], exactly CUE_SECONDS long."""
    n = round(CUE_SECONDS[name] * SAMPLE_RATE)
    if name == "start":      # rising pair of chimes: C5 then G5
        x = _chime(n, C5, 0.0, 0.55) + 0.75 * _chime(n, G5, 0.16, 0.5)
        x = _fade(x, 0.002, 0.25)
    elif name == "end":      # falling pair, longer: C5 then G4
        x = _chime(n, C5, 0.0, 0.7) + 0.9 * _chime(n, G4, 0.22, 0.8)
        x = _fade(x, 0.002, 0.3)
    elif name == "switch":   # two quick notes, down a fourth: D5 then A4
        x = _chime(n, D5, 0.0, 0.09) + _chime(n, A4, 0.22, 0.11)
        x = _fade(x, 0.002, 0.08)
    elif name == "tick":
        x = _fade(_tick(n), 0.001, 0.03)
    elif name == "inhale":   # upward glide, a fifth: A3 -> E4
        x = _fade(_glide(n, 220.0, 329.63), 0.01, 0.05)
    elif name == "exhale":   # downward glide, a fifth: E4 -> A3
        x = _fade(_glide(n, 329.63, 220.0), 0.01, 0.05)
    elif name == "checkin":  # gentle two-note question, up a major third: G4 then B4
        soft = ((1.0, 1.0, 1.0), (2.0, 0.15, 0.5))
        x = (_chime(n, G4, 0.0, 0.16, attack_s=0.03, partials=soft)
             + _chime(n, B4, 0.25, 0.2, attack_s=0.03, partials=soft))
        x = _fade(x, 0.002, 0.1)
    else:
        raise KeyError(f"no synthesis for cue {name!r}")
    peak = 10.0 ** (PEAK_DBFS[name] / 20.0)
    return x * (peak / np.max(np.abs(x)))


def to_pcm16(x: np.ndarray) -> bytes:
    """Little-endian 16-bit PCM bytes of float samples in [-1, 1]."""
    return pcm.to_int16(x).astype("<i2", copy=False).tobytes()


def write_wav(path: Path, pcm: bytes) -> None:
    """Write mono 16-bit PCM at SAMPLE_RATE to ``path`` atomically (temp file + rename)."""
    with atomic_path(path) as tmp, wave.open(tmp, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm)


def make_cues(out_dir: Path = DEFAULT_OUT_DIR) -> list[Path]:
    """Write every cue to ``out_dir/<name>.wav``; return the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in CUE_SECONDS:
        path = out_dir / f"{name}.wav"
        write_wav(path, to_pcm16(synthesize(name)))
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    """Command line: ``make_cues.py [OUTPUT_DIR]``."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return 0
    if len(args) > 1:
        print("usage: python scripts/make_cues.py [OUTPUT_DIR]", file=sys.stderr)
        return 2
    out_dir = Path(args[0]) if args else DEFAULT_OUT_DIR
    for path in make_cues(out_dir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
