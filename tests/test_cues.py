"""The cue sounds: format, length, level, smoothness, and that they match the script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile

from voiceguide.audio import cues
from voiceguide.audio.cues import cue_path, load_cues
from voiceguide.errors import VoiceguideError
from voiceguide.timing.timeline import CUE_SECONDS, SAMPLE_RATE

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "make_cues.py"
NAMES = list(CUE_SECONDS)

#: Largest allowed change between neighbouring samples (full scale is 1.0). The
#: smooth cues stay below 0.07; a click is a jump of a good part of the peak (~0.25).
MAX_STEP = 0.1


def frames(name: str) -> int:
    return round(CUE_SECONDS[name] * SAMPLE_RATE)


def dbfs(value: float) -> float:
    return 20 * np.log10(value)


def dominant_hz(x: np.ndarray) -> float:
    """Frequency of the strongest FFT bin of ``x`` (Hann window, 4x zero padding)."""
    n = 4 * len(x)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), n))
    return float(np.fft.rfftfreq(n, 1 / SAMPLE_RATE)[np.argmax(spectrum)])


@pytest.fixture
def fresh_cache():
    load_cues.cache_clear()
    yield
    load_cues.cache_clear()


@pytest.mark.parametrize("name", NAMES)
def test_file_is_mono_pcm16_at_the_timeline_rate_and_exact_length(name):
    info = soundfile.info(str(cue_path(name)))
    assert info.samplerate == SAMPLE_RATE == 22050
    assert info.channels == 1
    assert info.subtype == "PCM_16"
    assert info.frames == frames(name)


def test_load_cues_gives_every_cue_as_float32_mono_of_exact_length():
    loaded = load_cues()
    assert list(loaded) == NAMES
    for name, x in loaded.items():
        assert x.dtype == np.float32 and x.ndim == 1, name
        assert len(x) == frames(name), name
        assert np.all(np.abs(x) <= 1.0), name
    assert load_cues() is loaded  # cached


@pytest.mark.parametrize("name", NAMES)
def test_starts_and_ends_in_silence(name):
    x = load_cues()[name]
    assert abs(x[0]) < 1e-3 and abs(x[-1]) < 1e-3
    # The fades are smooth too, not just the very first and last sample.
    assert np.max(np.abs(x[:3])) < 0.01 and np.max(np.abs(x[-3:])) < 0.01


@pytest.mark.parametrize("name", NAMES)
def test_no_clicks(name):
    x = load_cues()[name].astype(np.float64)
    assert np.max(np.abs(np.diff(x))) < MAX_STEP
    # A click is broadband: even a sine cut off hard at both ends puts 1e-5 of its
    # power above 6 kHz. The cues put about 1e-8 there (the 16-bit noise floor).
    power = np.abs(np.fft.rfft(x)) ** 2
    high = power[np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE) > 6000].sum()
    assert high < 1e-6 * power.sum()


@pytest.mark.parametrize("name", NAMES)
def test_peak_level_is_moderate(name):
    peak = dbfs(np.max(np.abs(load_cues()[name])))
    assert -24 < peak < -6


def test_tick_is_quieter_than_the_chimes():
    loaded = load_cues()
    assert np.max(np.abs(loaded["tick"])) < np.max(np.abs(loaded["start"]))


@pytest.mark.parametrize("name, rises", [("inhale", True), ("exhale", False)])
def test_inhale_rises_and_exhale_falls(name, rises):
    x = load_cues()[name].astype(np.float64)
    third = len(x) // 3
    first, last = dominant_hz(x[:third]), dominant_hz(x[-third:])
    assert (last > first * 1.1) if rises else (last < first / 1.1), (first, last)


def test_committed_files_match_the_script(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.wav" for n in NAMES)
    for name in NAMES:
        assert (tmp_path / f"{name}.wav").read_bytes() == cue_path(name).read_bytes(), (
            f"audio_cues/{name}.wav differs from what scripts/make_cues.py makes; rerun it")


def test_missing_cue_file_says_how_to_fix_it(tmp_path, monkeypatch, fresh_cache):
    monkeypatch.setattr(cues, "_cue_dir", lambda: tmp_path)
    with pytest.raises(VoiceguideError) as caught:
        load_cues()
    message = str(caught.value)
    assert "python scripts/make_cues.py" in message and "\n" not in message


def test_wrong_length_cue_file_says_how_to_fix_it(tmp_path, monkeypatch, fresh_cache):
    for name in NAMES:
        soundfile.write(str(tmp_path / f"{name}.wav"), np.zeros(frames(name)), SAMPLE_RATE,
                        subtype="PCM_16")
    soundfile.write(str(tmp_path / "tick.wav"), np.zeros(frames("tick") - 1), SAMPLE_RATE,
                    subtype="PCM_16")
    monkeypatch.setattr(cues, "_cue_dir", lambda: tmp_path)
    with pytest.raises(VoiceguideError, match="tick.*python scripts/make_cues.py"):
        load_cues()


def test_wrong_rate_cue_file_is_refused(tmp_path, monkeypatch, fresh_cache):
    for name in NAMES:
        soundfile.write(str(tmp_path / f"{name}.wav"), np.zeros(frames(name)), 44100,
                        subtype="PCM_16")
    monkeypatch.setattr(cues, "_cue_dir", lambda: tmp_path)
    with pytest.raises(VoiceguideError, match="make_cues.py"):
        load_cues()


def test_falls_back_to_the_repository_folder_when_the_package_is_not_found(monkeypatch):
    def not_found(package):
        raise ModuleNotFoundError(package)

    monkeypatch.setattr(cues, "resources", SimpleNamespace(files=not_found))
    repo_folder = Path(cues.__file__).resolve().parents[2] / "audio_cues"
    assert cue_path("tick") == repo_folder / "tick.wav"


def test_unknown_cue_name_is_refused():
    with pytest.raises(VoiceguideError):
        cue_path("gong")
