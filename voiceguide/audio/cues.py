"""The short sounds that mark moments in a routine, and where their files live.

The compiler only needs each cue's length
(:data:`~voiceguide.timing.timeline.CUE_SECONDS`); the renderer loads the sounds with
:func:`load_cues`. ``scripts/make_cues.py`` generates the WAV files
in ``audio_cues/`` with exactly these lengths at the timeline's sample rate.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

import numpy as np

from voiceguide.errors import VoiceguideError
from voiceguide.timing.timeline import CUE_SECONDS, SAMPLE_RATE


def _cue_dir() -> Path:
    """The folder holding the cue WAV files.

    The installed package ``voiceguide.audio_cues`` (the repository's ``audio_cues/``
    folder, shipped inside the package) if it can be found; otherwise the repository's
    ``audio_cues/`` next to the package directory.
    """
    try:
        folder = resources.files("voiceguide.audio_cues")
    except ModuleNotFoundError:  # running from a source tree that is not installed
        folder = None
    if isinstance(folder, Path) and folder.is_dir():
        return folder
    return Path(__file__).resolve().parents[2] / "audio_cues"


def cue_path(name: str) -> Path:
    """The path of cue ``name``'s WAV file (which may not exist yet).

    Raises :class:`~voiceguide.errors.VoiceguideError` if ``name`` is not a cue.
    """
    if name not in CUE_SECONDS:
        raise VoiceguideError(f"unknown cue {name!r} (known cues: {', '.join(CUE_SECONDS)})")
    return _cue_dir() / f"{name}.wav"


def _load_cue(name: str) -> np.ndarray:
    """Read and check one cue file; return float32 mono samples."""
    import soundfile  # only the renderer needs it; keep importing this module light


    path = cue_path(name)
    fix = "run `python scripts/make_cues.py` from the repository root"
    if not path.is_file():
        raise VoiceguideError(f"cue sound {name!r} is missing ({path}); {fix}")
    try:
        samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, OSError) as exc:  # soundfile.LibsndfileError is a RuntimeError
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise VoiceguideError(f"cannot read cue sound {path}: {first_line}; {fix}") from None
    frames = round(CUE_SECONDS[name] * SAMPLE_RATE)
    if rate != SAMPLE_RATE or samples.shape[1] != 1 or samples.shape[0] != frames:
        raise VoiceguideError(
            f"cue sound {path} is {samples.shape[0]} frames, {samples.shape[1]} channel(s) "
            f"at {rate} Hz; expected {frames} frames, mono at {SAMPLE_RATE} Hz; {fix}")
    mono = np.ascontiguousarray(samples[:, 0])
    mono.flags.writeable = False  # shared through the cache
    return mono


@functools.lru_cache(maxsize=1)
def load_cues() -> dict[str, np.ndarray]:
    """Load every cue sound, keyed by name.

    Each value is a float32 mono array with samples in [-1, 1] and exactly
    ``round(CUE_SECONDS[name] * SAMPLE_RATE)`` samples. The result is cached and the
    arrays are read-only (copy one to change it).

    Raises :class:`~voiceguide.errors.VoiceguideError` if a file is missing,
    unreadable, or has the wrong length, channel count or sample rate.
    """
    return {name: _load_cue(name) for name in CUE_SECONDS}
