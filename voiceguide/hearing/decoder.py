"""The PocketSphinx decoder: one utterance's audio -> what it might say, with scores.

Everything runs offline with PocketSphinx 5 and the US-English acoustic model
and dictionary that ship inside its wheel; nothing is fetched. The decoder
holds three searches over the language of :mod:`voiceguide.hearing.language`;
:class:`Engine` runs them and gives a :class:`Decoding`, which
:func:`voiceguide.hearing.recognizer.decide` turns into an answer.

1. The audio is made 16 kHz mono (:func:`to_16k_mono`: FFT resampling with
   numpy) and a little seeded dither is added, so digital silence does not
   upset the features (:func:`speech_pcm`). A recording without any
   speech-like rise in energy (silence, steady noise; :func:`has_speech_energy`)
   is not decoded at all.
2. The main pass decodes with PocketSphinx's n-gram search over a small
   language model of answers and carrier phrases
   (:mod:`voiceguide.hearing.language`). The n-gram search, with its lattice
   and n-best list, proved more robust here than the JSGF/FSG grammar search
   (which often ended without reaching the grammar's final state and returned
   nothing), and than keyword spotting (its per-phrase thresholds cannot be
   tuned without recordings of real people).
3. The n-best list gives the best score of each answer
   (:attr:`Decoding.scores`), and the share of spoken frames that fall on
   answer words (:attr:`Decoding.answer_share`).
4. A second pass decodes the same audio with a language model of only the
   ways of saying stop (:attr:`Decoding.stop_gap`), and a third with a free
   phone loop: how much worse the winner explains the audio than the phone
   loop does, per frame of speech, is :attr:`Decoding.gap` (speech that is no
   answer at all fits the phone loop far better).

The engine is created once, lazily, and shared; :func:`engine` hands it out
under a lock, so decoding may be asked for from any thread.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import threading
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from voiceguide.audio import pcm
from voiceguide.errors import InputError
from voiceguide.hearing import language

#: The decoder's sample rate.
SAMPLE_RATE = 16000

_MIN_DYNAMIC_RANGE_DB = 12.0    # loudest 20 ms frame vs. the quiet floor
_MIN_PEAK_DBFS = -55.0          # loudest 20 ms frame, RMS, in dB full scale
_NBEST = 20
_ANSWERS = "answers"
_PHONES = "phones"
_STOPS = "stops"


def to_16k_mono(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Return ``samples`` as float64 mono at 16 kHz in -1..1.

    Accepts int16/int32/uint8 or float arrays, 1-D or (frames, channels).
    Resampling is band-limited, through the FFT of the whole signal.
    """
    raw = np.asarray(samples)
    if raw.ndim not in (1, 2):
        raise InputError(f"audio must be 1-D or (frames, channels), not {raw.ndim}-D")
    if raw.dtype.kind == "f":
        x = raw.astype(np.float64)
    elif raw.dtype.kind == "i":
        x = raw.astype(np.float64) / float(2 ** (8 * raw.dtype.itemsize - 1))
    elif raw.dtype.kind == "u":
        half = float(2 ** (8 * raw.dtype.itemsize - 1))
        x = (raw.astype(np.float64) - half) / half
    else:
        raise InputError(f"unsupported sample type {raw.dtype}")
    if x.ndim == 2:
        x = x.mean(axis=1)
    if not np.all(np.isfinite(x)):
        raise InputError("audio contains NaN or infinite samples")
    if sample_rate <= 0:
        raise InputError(f"sample rate must be positive, not {sample_rate}")
    if sample_rate != SAMPLE_RATE and len(x):
        x = _resample(x, sample_rate)
    return np.clip(x, -1.0, 1.0)


def _resample(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """``x`` from ``sample_rate`` to :data:`SAMPLE_RATE`, through its whole FFT."""
    n_out = max(1, int(round(len(x) * SAMPLE_RATE / sample_rate)))
    spectrum = np.fft.rfft(x)
    out = np.zeros(n_out // 2 + 1, dtype=complex)
    keep = min(len(spectrum), len(out))
    out[:keep] = spectrum[:keep]
    return np.fft.irfft(out, n_out) * (n_out / len(x))


def has_speech_energy(x: np.ndarray) -> bool:
    """Whether 16 kHz audio ``x`` (-1..1) has a speech-like rise in energy.

    True when its loudest 20 ms frame is both loud enough and well above the
    quiet floor (10th percentile of frame energies).  Silence and steady noise
    are False.  Deliberately lenient: it only saves decoding obvious non-speech.
    """
    frame = SAMPLE_RATE // 50
    n = len(x) // frame
    if n < 3:
        return False
    energy = np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12
    db = 10 * np.log10(energy)
    peak = np.max(db)
    floor = np.percentile(db, 10)
    return bool(peak >= _MIN_PEAK_DBFS and peak - floor >= _MIN_DYNAMIC_RANGE_DB)


def speech_pcm(samples: np.ndarray, sample_rate: int) -> bytes | None:
    """The decoder's input (16 kHz int16, dithered); None when there is no speech.

    Raises:
        InputError: the samples cannot be audio (bad shape, type, rate, NaN).
    """
    x = to_16k_mono(samples, sample_rate)
    if not has_speech_energy(x):
        return None
    peak = float(np.max(np.abs(x))) or 1.0
    rng = np.random.default_rng(0)
    x = x + rng.normal(0.0, 1e-3 * peak, len(x))          # dither, 60 dB under the peak
    return pcm.to_int16_truncated(x).astype("<i2", copy=False).tobytes()


@dataclass
class Decoding:
    """What the decoder found in one utterance (input to
    :func:`voiceguide.hearing.recognizer.decide`).

    Attributes:
        text: the best hypothesis, as dictionary words (phrases joined by ``_``).
        scores: the best score (natural log) of each answer in the n-best list.
        gap: score of the best answer minus that of the free phone loop, per
            100 frames of speech (near 0 or above: the answer explains the audio
            about as well as any sequence of sounds).
        stop_gap: score of the best answer minus that of the best way of
            saying stop (0 when the best answer is stop).
        answer_share: the share of the spoken frames taken by answer words
            (1 for a lone answer, less when carrier phrases surround it).
    """

    text: str
    scores: dict
    gap: float
    stop_gap: float
    answer_share: float = 1.0


class Engine:
    """The PocketSphinx decoder with the answers' and the stops' language models
    and a phone loop. Scores are PocketSphinx path scores converted to
    natural-log units, which are already normalized per frame by the decoder."""

    def __init__(self) -> None:
        from pocketsphinx import get_model_path

        model = get_model_path()
        with tempfile.TemporaryDirectory(prefix="voiceguide-asr-") as tmp:
            self.decoder = _decoder(model, tmp)
            stops = language.stop_sentences()
            for name, corpus in ((_ANSWERS, language.CORPUS), (_STOPS, stops)):
                self.decoder.add_lm_file(name, _write(tmp, name + ".arpa",
                                                      language.arpa(corpus)))
        self.decoder.add_allphone_file(_PHONES, os.path.join(model, "en-us",
                                                             "en-us-phone.lm.bin"))
        self.logmath = self.decoder.logmath
        self.ln_base = math.log(float(self.decoder.config["logbase"]))

    def _score(self, prob: float) -> float:
        """A score as returned by the bindings (exp'ed) back to natural-log units."""
        if prob <= 0.0:
            return -1e9
        return self.logmath.log(prob) * self.ln_base

    def _run(self, search: str, pcm: bytes):
        d = self.decoder
        d.activate_search(search)
        d.start_utt()
        d.process_raw(pcm, full_utt=True)
        d.end_utt()
        return d.hyp()

    def answers(self, pcm: bytes) -> tuple[str, float | None, dict[str, float]]:
        """One pass of the answers' language model over 16 kHz int16 PCM: the best
        hypothesis, its score, and the best score of each answer in the n-best list."""
        hyp = self._run(_ANSWERS, pcm)
        text = " ".join((hyp.hypstr if hyp else "").split())
        best_score = self._score(hyp.score) if hyp else None
        scores, texts = self._nbest()
        if best_score is not None and text:
            lab = language.label_of(text)
            scores[lab] = max(scores.get(lab, -math.inf), best_score)
        if not text and scores:
            # the best path held no word: fall back to the best n-best entry
            lab = max(scores, key=scores.get)
            text, best_score = texts.get(lab, ""), scores[lab]
        return text, best_score, scores

    def _nbest(self) -> tuple[dict[str, float], dict[str, str]]:
        """The best score of each answer in the last pass's n-best list, and the
        hypothesis that gave it."""
        scores: dict[str, float] = {}
        texts: dict[str, str] = {}
        # nbest() and seg() are None when no path through the model fits the audio
        for i, h in enumerate(self.decoder.nbest() or ()):
            if i >= _NBEST:
                break
            if h is None:
                continue
            lab = language.label_of(h.hypstr)
            s = self._score(h.score)
            if s > scores.get(lab, -math.inf):
                scores[lab] = s
                texts[lab] = h.hypstr
        return scores, texts

    def decode(self, pcm: bytes) -> Decoding:
        """Decode 16 kHz int16 PCM with the three searches."""
        d = self.decoder
        text, best_score, scores = self.answers(pcm)
        share = answer_share(d.seg() or ())

        stop_hyp = self._run(_STOPS, pcm)  # nothing but the ways of saying stop
        stop_score = self._score(stop_hyp.score) if stop_hyp and stop_hyp.hypstr else None
        if best_score is None:
            return Decoding("", {}, -math.inf, math.inf)
        stop_gap = math.inf if stop_score is None else best_score - stop_score
        return Decoding(text, scores, self.fit(pcm, best_score), stop_gap, share)

    def fit(self, pcm: bytes, score: float) -> float:
        """How much better a path of ``score`` explains the audio than a free phone
        loop, per 100 frames of speech (:attr:`Decoding.gap`)."""
        d = self.decoder
        phone_hyp = self._run(_PHONES, pcm)
        if phone_hyp is None:
            return -math.inf
        speech_frames = sum(s.end_frame - s.start_frame + 1 for s in d.seg() or ()
                            if s.word not in ("SIL", "+NSN+", "+SPN+", "<sil>"))
        return 100.0 * (score - self._score(phone_hyp.score)) / \
            max(speech_frames, d.n_frames() // 4, 1)


def _decoder(model: str, tmp: str):
    """A PocketSphinx decoder with the acoustic model in ``model``, the answers'
    dictionary and the silence-only noise dictionary (written into ``tmp``), and
    no search yet."""
    from pocketsphinx import Decoder

    cmudict = os.path.join(model, "en-us", "cmudict-en-us.dict")
    return Decoder(
        hmm=os.path.join(model, "en-us", "en-us"),
        dict=_write(tmp, "answers.dict", language.dictionary(cmudict)),
        fdict=_write(tmp, "noisedict", language.NOISE_DICTIONARY),
        lm=None,
        loglevel="FATAL",
    )


def _write(folder: str, name: str, text: str) -> str:
    """Write ``text`` to ``name`` in ``folder``; return its path."""
    path = os.path.join(folder, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def answer_share(segments) -> float:
    """The share of spoken frames (not silence) that fall on answer words."""
    spoken = answer = 0
    for seg in segments:
        word = seg.word.split("(")[0]
        if word.startswith(("<", "[", "+")) or word in ("SIL",):
            continue
        frames = seg.end_frame - seg.start_frame + 1
        spoken += frames
        if language.label(word) is not None:
            answer += frames
    return answer / spoken if spoken else 1.0


_engine: Engine | None = None
_lock = threading.Lock()


@contextlib.contextmanager
def engine() -> Iterator[Engine]:
    """The shared :class:`Engine` (created on first use), for the caller alone
    while the block runs."""
    global _engine
    with _lock:
        if _engine is None:
            _engine = Engine()
        yield _engine
