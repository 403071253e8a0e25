"""Loudness: levelled speech, and exports at spoken-word loudness with both engines.

Measured with pyloudnorm (an independent BS.1770-4 implementation) and true peak by
4x oversampling (libsoxr), on real clips from espeak-ng and Piper.
"""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest
import soundfile
import soxr

from tests.support.cli import run_voiceguide
from voiceguide import catalog
from voiceguide.session import prepare as preparing
from voiceguide.audio.loudness import (EXPORT_LUFS, PEAK_CEILING_DBFS, SPEECH_LUFS,
                                 integrated_loudness, level, limit)
from voiceguide.speech import Speech
from voiceguide.timing.timeline import SAMPLE_RATE

JOE = "piper:en_US-joe-medium"
TEXTS = ["Lie on your back, knees bent, feet flat on the floor.",
         "Breathe in slowly through your nose.", "Good."]


def true_peak_db(x: np.ndarray) -> float:
    """The true peak (dBTP): the highest sample of the signal oversampled four times."""
    return float(20 * np.log10(np.abs(soxr.resample(x, SAMPLE_RATE, 4 * SAMPLE_RATE)).max()))


def lufs(x: np.ndarray) -> float:
    return pyloudnorm.Meter(SAMPLE_RATE).integrated_loudness(np.asarray(x, np.float64))


@pytest.fixture(scope="module")
def clips() -> dict[str, list[np.ndarray]]:
    """Raw (peak-normalized) clips of the same texts from both engines."""
    out = {}
    for voice in (None, JOE):
        with Speech(voice=voice) as sp:
            sp.prepare(TEXTS)
            out[voice or "espeak"] = [sp.clip(t) for t in TEXTS]
    return out


def test_loudness_measure_agrees_with_pyloudnorm(clips):
    rng = np.random.default_rng(7)
    noise = 0.05 * rng.standard_normal(3 * SAMPLE_RATE)
    for x in [c / 32768.0 for c in clips["espeak"][:2] + clips[JOE][:2]] + [noise]:
        assert abs(integrated_loudness(x, SAMPLE_RATE) - lufs(x)) < 0.3
    assert integrated_loudness(np.zeros(1000), SAMPLE_RATE) == float("-inf")


def test_levelled_clips_of_both_engines_are_equally_loud(clips):
    for engine, cs in clips.items():
        for clip in cs:
            out = level(clip, SAMPLE_RATE)
            assert out.dtype == np.int16 and len(out) == len(clip)
            assert np.array_equal(out, level(clip, SAMPLE_RATE))  # deterministic
            x = out / 32768.0
            # the short "Good." is measured as one block
            assert abs(integrated_loudness(x, SAMPLE_RATE) - SPEECH_LUFS) < 0.7, engine
            assert np.abs(x).max() <= 10 ** (PEAK_CEILING_DBFS / 20) + 1 / 32768
    assert not level(np.zeros(500, np.int16), SAMPLE_RATE).any()


def test_limiter_never_passes_the_ceiling_and_leaves_quiet_parts_alone():
    rng = np.random.default_rng(1)
    x = 0.1 * rng.standard_normal(SAMPLE_RATE)
    x[5000:5010] = 0.95  # a burst
    out = limit(x, 0.5, SAMPLE_RATE)
    assert np.abs(out).max() <= 0.5 + 1e-12
    assert np.array_equal(out[12000:], x[12000:])  # far from the burst: untouched
    quiet = x * 0.1  # nothing near the ceiling: nothing changes
    assert np.array_equal(limit(quiet, 0.5, SAMPLE_RATE), quiet)


def rendered(routine: str, voice: str | None) -> np.ndarray:
    """The routine as export writes it (the same renderer, blocks and gains), without
    the file: the pure loudness path, on the shared clip cache."""
    prepared = preparing.prepare_named(routine, {"voice": voice}, library=catalog.load_library())
    try:
        blocks = list(prepared.renderer(prepared.timeline).blocks(block=1 << 16))
    finally:
        prepared.speech.close()
    return np.concatenate(blocks)


@pytest.mark.parametrize("routine,voice", [
    ("quick", None), ("morning", None), ("evening", None), ("lower-back", None),
    ("quick", "joe"),
])
def test_export_loudness_is_on_target(routine, voice):
    """Every routine lands within 1 LU of the export target with espeak-ng; with
    Piper, the quick routine (synthesizing every routine with Piper would take most
    of the test time; levelling does not depend on the engine)."""
    x = rendered(routine, voice)
    assert abs(lufs(x) - EXPORT_LUFS) <= 1.0
    assert true_peak_db(x) <= -1.0


def test_mp3_export_keeps_its_true_peak_under_minus_1_dbtp(tmp_path, two):
    out = tmp_path / "two.mp3"
    result = run_voiceguide("export", two, "--voice", "joe", "-o", out, timeout=300)
    assert result.returncode == 0, result.stderr
    x, rate = soundfile.read(str(out))
    assert rate == SAMPLE_RATE
    assert true_peak_db(x) <= -1.0
    assert abs(lufs(x) - EXPORT_LUFS) <= 1.5  # a short routine: a few clips and cues
