"""Generate a labelled set of spoken answers with espeak-ng, for the recognizer's tests.

Every recording is made by the ``espeak-ng`` command line
(``espeak-ng -w out.wav -v VOICE -s SPEED -p PITCH "text"``), then some are
mixed with white or pink noise at a moderate signal-to-noise ratio, resampled to
44100 Hz or 8000 Hz, or made stereo, so the recognizer sees the kinds of input
it may get.  Everything is deterministic: the variations are picked from a fixed
plan and the noise comes from seeded generators, so two runs give the same files.

Usage as a script: ``python tests/voice_samples.py OUT_DIR`` writes the WAV files
and ``labels.tsv`` (file name, expected label, text, voice, speed, pitch, noise,
rate) into OUT_DIR.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

#: Voices used: espeak-ng's American English with its Klatt-synthesizer variants
#: (``espeak-ng --voices=en``, ``--voices=variant``), male and female, and the
#: New York accent.  The Klatt voices are the most speech-like ones espeak-ng
#: has; its default formant voices (``en-us``, ``en-gb``, ``+f3`` ...) are so
#: far from human speech that PocketSphinx's acoustic model, trained on people,
#: hears only about 75 % of them right, which would measure the synthesizer
#: rather than the recognizer.
VOICES = ["en-us+klatt", "en-us+klatt2", "en-us+klatt3", "en-us+klatt4", "en-us+klatt5",
          "en-us+klatt6", "en-us-nyc+klatt"]

#: (text spoken, expected answer).  Vocabulary words first, then stop signs,
#: then a few answers inside short carrier phrases.
WORDS = [
    ("good", "good"), ("same", "same"), ("worse", "worse"), ("stop", "stop"),
    ("pause", "pause"), ("resume", "resume"), ("next", "next"), ("repeat", "repeat"),
    ("yes", "yes"), ("no", "no"),
    ("zero", "0"), ("one", "1"), ("two", "2"), ("three", "3"), ("four", "4"), ("five", "5"),
    ("six", "6"), ("seven", "7"), ("eight", "8"), ("nine", "9"), ("ten", "10"),
]
STOP_SIGNS = [
    ("sharp pain", "stop"), ("shooting pain", "stop"), ("numb", "stop"),
    ("numbness", "stop"), ("tingling", "stop"), ("it's tingling", "stop"),
    ("weak", "stop"), ("weakness", "stop"), ("stop stop", "stop"),
]
PHRASES = [
    ("I feel good", "good"), ("about the same", "same"), ("a bit worse", "worse"),
    ("please stop", "stop"), ("it is numb", "stop"), ("my leg feels weak", "stop"),
    ("yes please", "yes"), ("no thanks", "no"),
]

#: Labels whose recordings must come out as ``stop``.
STOP_LABEL = "stop"


@dataclass(frozen=True)
class Sample:
    """One generated recording and what it should be recognized as."""

    path: Path
    label: str
    text: str
    voice: str
    speed: int
    pitch: int
    noise: str  # "", "white" or "pink"
    rate: int
    channels: int = 1


def espeak_available() -> bool:
    """Whether the espeak-ng command line can be run."""
    return shutil.which("espeak-ng") is not None


def _speak(text: str, voice: str, speed: int, pitch: int, out: Path) -> None:
    subprocess.run(
        ["espeak-ng", "-w", str(out), "-v", voice, "-s", str(speed), "-p", str(pitch), text],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def spoken(text: str, voice: str, folder: Path, dtype: str = "float64") -> tuple[np.ndarray, int]:
    """``text`` spoken by espeak-ng in ``voice`` (at the voice's own speed and
    pitch), as it wrote it: (samples, rate). ``folder`` holds a scratch file."""
    path = Path(folder) / "spoken.wav"
    subprocess.run(["espeak-ng", "-w", str(path), "-v", voice, text], check=True)
    return sf.read(str(path), dtype=dtype)


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    """Pink (1/f) noise by shaping white noise in the frequency domain."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spectrum), dtype=float)
    f[0] = 1.0
    pink = np.fft.irfft(spectrum / np.sqrt(f), n)
    return pink / (np.std(pink) + 1e-12)


def _add_noise(x: np.ndarray, kind: str, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Mix noise so that speech power / noise power is ``snr_db`` (speech part only)."""
    loud = np.abs(x) > 0.02 * np.max(np.abs(x))
    p_speech = np.mean(x[loud] ** 2) if loud.any() else np.mean(x ** 2)
    noise = rng.standard_normal(len(x)) if kind == "white" else _pink(len(x), rng)
    noise *= np.sqrt(p_speech / 10 ** (snr_db / 10)) / (np.std(noise) + 1e-12)
    return x + noise


def _resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    """Band-limited resampling through the FFT (independent of the recognizer's own)."""
    if src == dst:
        return x
    n_out = int(round(len(x) * dst / src))
    spec = np.fft.rfft(x)
    n_keep = min(len(spec), n_out // 2 + 1)
    out_spec = np.zeros(n_out // 2 + 1, dtype=complex)
    out_spec[:n_keep] = spec[:n_keep]
    return np.fft.irfft(out_spec, n_out) * (n_out / len(x))


def _recorded(text: str, voice: str, speed: int, pitch: int, raw: Path):
    """``text`` spoken by espeak-ng, with a little leading and trailing silence as a
    microphone would record it: (samples, rate). ``raw`` is a scratch file."""
    _speak(text, voice, speed, pitch, raw)
    x, sr = sf.read(str(raw), dtype="float64")
    raw.unlink()
    pad = np.zeros(int(0.3 * sr))
    return np.concatenate([pad, x, pad]), sr


def _slug(text: str) -> str:
    """A file-name-safe start of ``text``."""
    return "".join(c if c.isalnum() else "_" for c in text)[:24]


def _write(path: Path, x: np.ndarray, rate: int, channels: int) -> None:
    x = np.clip(x, -1.0, 1.0)
    if channels == 2:
        x = np.stack([x, 0.8 * x], axis=1)
    sf.write(str(path), x, rate, subtype="PCM_16")


def plan(variant: int = 0) -> list[tuple[str, str, str, int, int, str, int, int]]:
    """The fixed list of (text, label, voice, speed, pitch, noise, rate, channels).

    ``variant`` shifts which voice, speed, pitch, noise and rate each text gets,
    giving other sets of the same size (0 is the test set; others can be used
    to tune without looking at it).
    """
    rows = []
    i = variant * 5
    speeds = [140, 175, 120, 200, 160]
    pitches = [50, 35, 70, 45, 60]
    rates = [0, 0, 44100, 0, 8000, 0, 0, 48000]        # 0: espeak-ng's own 22050 Hz
    noises = ["", "white", "", "pink", "", "", "white", ""]

    def add(text, label, reps):
        nonlocal i
        for r in range(reps):
            voice = VOICES[(i * 3 + r + variant) % len(VOICES)]
            rows.append((text, label, voice, speeds[i % len(speeds)], pitches[(i // 2) % len(pitches)],
                         noises[i % len(noises)], rates[(i // 3) % len(rates)],
                         2 if i % 11 == 5 else 1))
            i += 1

    for text, label in WORDS:
        add(text, label, 3)
    for text, label in STOP_SIGNS:
        add(text, label, 3)
    for text, label in PHRASES:
        add(text, label, 1)
    return rows


def generate(folder: Path | str, seed: int = 1234, variant: int = 0) -> list[Sample]:
    """Write every recording of :func:`plan` plus silence and noise-only files into ``folder``.

    Returns the samples with their expected labels; also writes ``labels.tsv``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed + variant)
    samples: list[Sample] = []
    for n, (text, label, voice, speed, pitch, noise, rate, channels) in enumerate(plan(variant)):
        x, sr = _recorded(text, voice, speed, pitch, folder / f"_raw{n:03d}.wav")
        if noise:
            x = _add_noise(x, noise, 20.0, rng)
        out_rate = rate or sr
        x = _resample(x, sr, out_rate)
        path = folder / f"{n:03d}_{label}_{_slug(text)}.wav"
        _write(path, x, out_rate, channels)
        samples.append(Sample(path, label, text, voice, speed, pitch, noise, out_rate, channels))

    # Silence and noise only: must be recognized as "none".
    extra = [
        ("silence", np.zeros(16000 * 2), 16000, ""),
        ("hiss", 0.003 * rng.standard_normal(16000 * 2), 16000, "white"),
        ("white", 0.05 * rng.standard_normal(22050 * 2), 22050, "white"),
        ("pink", 0.08 * _pink(44100 * 2, rng), 44100, "pink"),
    ]
    for name, x, rate, noise in extra:
        path = folder / f"{len(samples):03d}_none_{name}.wav"
        _write(path, x, rate, 1)
        samples.append(Sample(path, "none", f"({name})", "", 0, 0, noise, rate))

    with open(folder / "labels.tsv", "w", newline="") as f:
        w = csv.writer(f, delimiter="\t")
        w.writerow(["file", "label", "text", "voice", "speed", "pitch", "noise", "rate", "channels"])
        for s in samples:
            w.writerow([s.path.name, s.label, s.text, s.voice, s.speed, s.pitch, s.noise, s.rate,
                        s.channels])
    return samples



#: Whole-phrase answers, as a person would say them (text, expected answer).
#: Answers inside carrier phrases, stop signs inside phrases, and commands.
PHRASE_SET = [
    ("it feels good", "good"), ("I feel good", "good"), ("feeling good", "good"),
    ("pretty good", "good"), ("I'm okay", "good"), ("I'm fine", "good"),
    ("about the same", "same"), ("the same", "same"), ("it's the same", "same"),
    ("same as before", "same"), ("pretty much the same", "same"),
    ("a bit worse", "worse"), ("it's worse", "worse"), ("getting worse", "worse"),
    ("a little worse", "worse"), ("it feels worse", "worse"),
    ("yes, I do", "yes"), ("yes please", "yes"), ("yes it is", "yes"),
    ("no, I don't", "no"), ("no thanks", "no"), ("no, not really", "no"),
    ("go on", "resume"), ("please go on", "resume"), ("pause please", "pause"),
    ("next one", "next"), ("repeat that", "repeat"),
    ("please stop", "stop"), ("stop please", "stop"), ("I want to stop", "stop"),
    ("my leg is numb", "stop"), ("sharp pain", "stop"), ("I have a sharp pain", "stop"),
    ("shooting pain", "stop"), ("it's tingling", "stop"), ("my foot is tingling", "stop"),
    ("my leg feels weak", "stop"), ("I feel numb", "stop"), ("stop it", "stop"),
]

#: Voices for the phrase set: espeak-ng Klatt variants at pitches and speeds
#: the guide never speaks with (it speaks with espeak-ng's default voice).
PHRASE_VOICES = [("en-us+klatt", 40), ("en-us+klatt2", 62), ("en-us+klatt3", 50),
                 ("en-us+klatt4", 70), ("en-us+klatt5", 35), ("en-us+klatt6", 55),
                 ("en-us-nyc+klatt", 45)]
PHRASE_SPEEDS = [130, 150, 170]


def generate_phrases(folder: Path | str, seed: int = 4321, voices: int = 3,
                     offset: int = 0) -> list[Sample]:
    """Write :data:`PHRASE_SET` spoken by ``voices`` voices each, every recording
    with white or pink noise at 20 dB SNR, into ``folder``.

    ``offset`` shifts which voices, pitches and speeds each phrase gets (0 for
    the test set; other values give tuning sets that do not overlap it much).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed + offset)
    samples: list[Sample] = []
    for n, (text, label) in enumerate(PHRASE_SET):
        for v in range(voices):
            k = n * voices + v + offset
            voice, pitch = PHRASE_VOICES[(n + v * 3 + offset) % len(PHRASE_VOICES)]
            speed = PHRASE_SPEEDS[k % len(PHRASE_SPEEDS)]
            x, sr = _recorded(text, voice, speed, pitch, folder / f"_raw{k:04d}.wav")
            noise = "white" if k % 2 else "pink"
            x = _add_noise(x, noise, 20.0, rng)
            path = folder / f"p{len(samples):03d}_{label}_{_slug(text)}.wav"
            _write(path, x, sr, 1)
            samples.append(Sample(path, label, text, voice, speed, pitch, noise, sr))
    return samples


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: voice_samples.py OUT_DIR")
    made = generate(sys.argv[1])
    print(f"{len(made)} recordings in {sys.argv[1]}")
