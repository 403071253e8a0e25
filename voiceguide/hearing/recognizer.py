"""Offline recognition of spoken check-in answers, with a safety bias.

The person lying on the floor answers a check-in with one short word or phrase.
:func:`recognize` turns one utterance into a :class:`Heard` whose ``word`` is
one of :data:`VOCABULARY`:

* ``good``, ``same``, ``worse``, ``stop``, ``pause``, ``resume``, ``next``,
  ``repeat``, ``yes``, ``no``;
* ``0`` .. ``10`` (spoken "zero" .. "ten");
* ``none`` when nothing usable was heard.

Stop signs ("sharp pain", "shooting pain", "numb", "numbness", "tingling",
"weak", "weakness", also inside short phrases such as "it's tingling") are
answered as ``stop``.

How it works
------------
Everything runs offline with PocketSphinx 5 and the US-English acoustic model
and dictionary that ship inside its wheel; nothing is fetched.

1. The audio is made 16 kHz mono (FFT resampling with numpy) and a little
   seeded dither is added, so digital silence does not upset the features.
   A recording without any speech-like rise in energy (silence, steady noise)
   is ``none`` at once.
2. The main pass decodes with PocketSphinx's n-gram search over a small
   language model of *answers* and *carrier phrases*.  Answers are the words
   above plus a few synonyms ("okay", "fine" -> good; "go on" -> resume).
   Carriers carry no meaning ("it feels", "a bit", "my leg is", "I do",
   "please") and each is one dictionary entry, so that no lone short word
   ("a", "it") can win.  The training sentences pair each carrier evenly with
   every answer of its kind (stop signs and other feelings alike), so no
   carrier leans towards stop, and repeat each answer alone, so an answer is
   always likelier than filler.  A hypothesis means ``stop`` when any of its
   words does, else its first answer word ("yes, I do" is yes).
   PocketSphinx's noise words ([NOISE], [SPEECH]) are left out of
   the noise dictionary: they could swallow a spoken "stop".  The n-gram
   search, with its lattice and n-best list, proved more robust here than the
   JSGF/FSG grammar search (which often ended without reaching the grammar's
   final state and returned nothing), and than keyword spotting (its
   per-phrase thresholds cannot be tuned without recordings of real people).
3. The n-best list gives the best score of each answer; their softmax is the
   *margin* confidence (is the winner clearly ahead of the next answer?).
   Scores are per frame, so carriers dilute the answer word's lead: the
   softmax temperature is scaled by the share of spoken frames that fall on
   answer words.
4. A second pass decodes the same audio with a language model of only the
   ways of saying stop, and a third with a free phone loop.  How much worse
   the winner explains the audio than the phone loop does, per frame of
   speech, is the *acoustic* confidence (speech that is no answer at all fits
   the phone loop far better).
5. Safety rules, applied last:

   * anything that is or might be ``stop`` is ``stop``: a stop word in the best
     hypothesis, ``stop`` close behind the winner in the n-best list, or the
     stop-only pass explaining the audio clearly better than the winner (or
     at all better, when the winner holds two answer words, which nobody
     says: the decoder was lost).  False alarms are preferred over misses;
     such a guessed stop has a confidence under :data:`SURE_STOP`
     (``Heard.sure`` is False), and the player asks "Did you say stop?";
   * ``good`` and ``same`` need a confidence of 0.6, any other answer 0.2;
     below it the answer is ``none`` (so a mumble never becomes ``good``).

The thresholds were tuned on espeak-ng recordings other than the test set's.
The decoder is created once, lazily, and shared; a lock serializes its use, so
:func:`recognize` may be called from any thread.
"""

from __future__ import annotations

import math
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voiceguide.audio import pcm
from voiceguide.errors import InputError
from voiceguide.vocabulary import (ANSWERS, CARRIERS, NUMBER_CARRIERS, SPOKEN_ANSWERS,
                                   SPOKEN_NUMBERS, STOP_SIGNS, SYNONYMS, word_answer)

#: Every word :func:`recognize` can answer with.
VOCABULARY = ANSWERS

#: A ``stop`` heard with less confidence than this is asked about, not obeyed at once.
SURE_STOP = 0.5

#: The confidence of a stop guessed by a safety rule where no score can say more.
GUESSED_STOP = 0.1

#: The decoder's sample rate.
SAMPLE_RATE = 16000

# The language is made of *answers* (vocabulary.SPOKEN_ANSWERS, the stop signs and
# the synonyms) and *carrier phrases* that carry no meaning of their own ("it
# feels", "a bit", "I do", "please"). Every multi-word item is one dictionary
# entry (its words' pronunciations joined), so that a lone short word ("a", "it")
# never competes on its own. Each carrier is paired in the training sentences
# with every answer of the kind it goes with, stop signs and other answers alike:
# no carrier leans towards stop ("feels numb" is no likelier than "feels good"),
# and the answers alone are repeated so that an answer is always likelier than
# filler.
_ALONE_WEIGHT = 4               # how often each answer alone is in the training text


def _token(text: str) -> str:
    """The dictionary entry of a word or phrase (phrases joined with ``_``)."""
    return text.replace(" ", "_")


def _sentences() -> list[str]:
    """The language model's training sentences (see the comment above)."""
    answers = [*SPOKEN_ANSWERS, *(w for w in STOP_SIGNS if " " not in w), *SYNONYMS]
    out = [_token(a) for a in dict.fromkeys(answers) for _ in range(_ALONE_WEIGHT)]
    for befores, kind, afters in CARRIERS:
        out += [f"{_token(c)} {_token(a)}" for c in befores for a in kind]
        out += [f"{_token(a)} {_token(c)}" for c in afters for a in kind]
    befores, afters = NUMBER_CARRIERS
    for number in SPOKEN_NUMBERS:
        out += [f"{c} {number}" for c in befores] + [f"{number} {c}" for c in afters]
    out.append("stop stop")
    return out


_CORPUS = _sentences()
_FILLER = frozenset(_token(c) for befores, _, afters in CARRIERS for c in (*befores, *afters))

# Thresholds (see the module docstring).  Scores are PocketSphinx path scores
# converted to natural-log units, which are already normalized per frame by the
# decoder, hence the small numbers.
_MARGIN_TEMPERATURE = 0.03      # softmax temperature over the n-best answer scores
_STOP_MARGIN = 0.07             # "stop" this close behind the winner in the n-best -> stop
_STOP_GAP = -0.07               # stop-only search this much better than the winner -> stop
_ACOUSTIC_CENTRE = -0.20        # per-100-frames score gap to the phone loop at conf 0.5
_ACOUSTIC_SLOPE = 0.04
_FIT_OVER_GUIDE = -0.08          # hear_stop: least gap to the phone loop for a guessed stop
_MIN_SHARE = 0.25               # the least answer share the margin is corrected for
_MIN_CONFIDENCE = 0.20          # below: none
_MIN_CONFIDENCE_GOOD = 0.60     # below, for good/same: none
_MIN_DYNAMIC_RANGE_DB = 12.0    # loudest 20 ms frame vs. the quiet floor
_MIN_PEAK_DBFS = -55.0          # loudest 20 ms frame, RMS, in dB full scale
_NBEST = 20
_ANSWERS = "answers"
_PHONES = "phones"
_STOPS = "stops"


@dataclass
class Heard:
    """What the recognizer heard in one utterance, and the answer it takes it for
    (the session turns it into a check-in's ``Answer``).

    Attributes:
        word: one of :data:`VOCABULARY` (``none`` when nothing usable was heard).
        confidence: 0..1, how sure the recognizer is of ``word``.
        heard: the words the decoder heard, as text (may be empty).
    """

    word: str
    confidence: float
    heard: str

    @property
    def sure(self) -> bool:
        """False for a ``stop`` that only might be one (a safety rule's guess):
        the player then pauses and asks "Did you say stop?"."""
        return self.word != "stop" or self.confidence >= SURE_STOP


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
        n_out = max(1, int(round(len(x) * SAMPLE_RATE / sample_rate)))
        spectrum = np.fft.rfft(x)
        out = np.zeros(n_out // 2 + 1, dtype=complex)
        keep = min(len(spectrum), len(out))
        out[:keep] = spectrum[:keep]
        x = np.fft.irfft(out, n_out) * (n_out / len(x))
    return np.clip(x, -1.0, 1.0)


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


def _label(word: str) -> str | None:
    """The answer one dictionary entry means, or None for a carrier phrase."""
    word = word.split("(")[0]
    if word in _FILLER:
        return None
    return word_answer(word.replace("_", " "))


def label_of(text: str) -> str:
    """The answer a decoded word sequence means: ``stop`` if any word means
    stop, else its first answer word (people lead with the answer: "yes, I do",
    "good, thanks"), else ``none``."""
    labels = [lab for lab in (_label(w) for w in text.split()) if lab and lab != "none"]
    if "stop" in labels:
        return "stop"
    return labels[0] if labels else "none"


class _Engine:
    """The PocketSphinx decoder with the answer language model and a phone loop."""

    def __init__(self) -> None:
        from pocketsphinx import Decoder, get_model_path

        model = get_model_path()
        with tempfile.TemporaryDirectory(prefix="voiceguide-asr-") as tmp:
            # Noise "words" ([NOISE], [SPEECH]) are left out on purpose: they
            # could swallow a spoken "stop"; the confidence rules reject noise.
            fdict = os.path.join(tmp, "noisedict")
            with open(fdict, "w", encoding="utf-8") as f:
                f.write("<s> SIL\n</s> SIL\n<sil> SIL\n")
            # A dictionary of just the words needed: with the whole CMU
            # dictionary, building each language-model search takes seconds.
            tokens = {t for sentence in _CORPUS for t in sentence.split()}
            words = {w for t in tokens for w in t.split("_")}
            prons: dict[str, list[str]] = {}
            with open(os.path.join(model, "en-us", "cmudict-en-us.dict"), encoding="utf-8") as f:
                for line in f:
                    head, _, phones = line.strip().partition(" ")
                    if head.split("(")[0] in words:
                        prons.setdefault(head.split("(")[0], []).append(phones.strip())
            missing = words - prons.keys()
            if missing:  # cannot happen with the shipped dictionary
                raise RuntimeError(f"words missing from the dictionary: {sorted(missing)}")
            lines = []
            for word, alternatives in sorted(prons.items()):
                for i, phones in enumerate(alternatives):
                    lines.append(f"{word if i == 0 else f'{word}({i + 1})'} {phones}")
            for token in sorted(tokens):
                if "_" in token:  # a phrase: its words' first pronunciations joined
                    lines.append(token + " " + " ".join(prons[w][0] for w in token.split("_")))
            dict_path = os.path.join(tmp, "answers.dict")
            with open(dict_path, "w", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")
            self.decoder = Decoder(
                hmm=os.path.join(model, "en-us", "en-us"),
                dict=dict_path,
                fdict=fdict,
                lm=None,
                loglevel="FATAL",
            )
            d = self.decoder
            stops = [w for w in _CORPUS if label_of(w) == "stop"]
            for name, corpus in ((_ANSWERS, _CORPUS), (_STOPS, stops)):
                lm_path = os.path.join(tmp, name + ".arpa")
                with open(lm_path, "w", encoding="utf-8") as f:
                    f.write(_arpa(corpus))
                d.add_lm_file(name, lm_path)
        d.add_allphone_file(_PHONES, os.path.join(model, "en-us", "en-us-phone.lm.bin"))
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
        d = self.decoder
        hyp = self._run(_ANSWERS, pcm)
        text = " ".join((hyp.hypstr if hyp else "").split())
        best_score = self._score(hyp.score) if hyp else None
        scores: dict[str, float] = {}
        texts: dict[str, str] = {}
        # nbest() and seg() are None when no path through the model fits the audio
        for i, h in enumerate(d.nbest() or ()):
            if i >= _NBEST:
                break
            if h is None:
                continue
            lab = label_of(h.hypstr)
            s = self._score(h.score)
            if s > scores.get(lab, -math.inf):
                scores[lab] = s
                texts[lab] = h.hypstr
        if best_score is not None and text:
            lab = label_of(text)
            scores[lab] = max(scores.get(lab, -math.inf), best_score)
        if not text and scores:
            # the best path held no word: fall back to the best n-best entry
            lab = max(scores, key=scores.get)
            text, best_score = texts.get(lab, ""), scores[lab]
        return text, best_score, scores

    def decode(self, pcm: bytes) -> "Decoding":
        """Decode 16 kHz int16 PCM with the three searches."""
        d = self.decoder
        text, best_score, scores = self.answers(pcm)
        share = _answer_share(d.seg() or ())

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


def _answer_share(segments) -> float:
    """The share of spoken frames (not silence) that fall on answer words."""
    spoken = answer = 0
    for seg in segments:
        word = seg.word.split("(")[0]
        if word.startswith(("<", "[", "+")) or word in ("SIL",):
            continue
        frames = seg.end_frame - seg.start_frame + 1
        spoken += frames
        if _label(word) is not None:
            answer += frames
    return answer / spoken if spoken else 1.0


@dataclass
class Decoding:
    """What the decoder found in one utterance (input to :func:`decide`).

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


def _arpa(sentences: list[str]) -> str:
    """A bigram ARPA model of ``sentences`` (fixed discounting, from pocketsphinx.lm)."""
    import io

    from pocketsphinx.lm import ArpaBoLM

    lm = ArpaBoLM(text="\n".join(sentences), add_start=True, discount_mass=0.01)
    lm.compute()
    buf = io.StringIO()
    lm.write(buf)
    return buf.getvalue()


_engine: _Engine | None = None
_lock = threading.Lock()


def _get_engine() -> _Engine:
    global _engine
    if _engine is None:
        _engine = _Engine()
    return _engine


def warm_up() -> None:
    """Create the decoder now (it is otherwise created by the first recognition)."""
    with _lock:
        _get_engine()


def recognize(samples: np.ndarray, sample_rate: int) -> Heard:
    """Recognize one utterance.

    Args:
        samples: audio, int16 (or other integer) or float (-1..1) samples, mono
            1-D or (frames, channels); any length (a whole utterance, with or
            without surrounding silence).
        sample_rate: its sample rate in Hz (any; resampled to 16 kHz).

    Returns:
        The :class:`Heard`. ``word`` is ``none`` for silence, noise, speech that
        is not an answer, or an answer too uncertain to act on.

    Raises:
        InputError: the samples cannot be audio (bad shape, type, rate, NaN).
    """
    pcm = _pcm(samples, sample_rate)
    if pcm is None:
        return Heard("none", 1.0, "")
    with _lock:
        decoding = _get_engine().decode(pcm)
    return decide(decoding)


def hear_stop(samples: np.ndarray, sample_rate: int) -> Heard:
    """Recognize one utterance said over the guide's voice, where only a stop counts.

    One pass of the answers' language model (a quarter of :func:`recognize`'s
    work): a sure ``stop`` when the words it heard say stop or a stop sign, else
    ``none``, with one exception. Over the guide's voice "I feel numb" may come
    out as "I feel fine", "I feel numb" just behind: when a way of saying stop
    comes that close behind in the n-best list (as in :func:`recognize`), and
    the words explain the audio about as well as any sequence of sounds
    (:data:`_FIT_OVER_GUIDE`, which takes the free phone loop's pass too), the
    answer is an unsure ``stop`` (the player asks "Did you say stop?"). What the
    canceller leaves of the guide's own voice mostly fits far worse: of 24 such
    leftovers with a stop close behind, measured through a real sound server and
    the room simulation, 21 fail that test. (Barge-in drops the guide's
    leftovers before they reach the recognizer; this is a second guard.)
    Arguments and errors as for :func:`recognize`.
    """
    pcm = _pcm(samples, sample_rate)
    if pcm is None:
        return Heard("none", 1.0, "")
    with _lock:
        engine = _get_engine()
        text, score, scores = engine.answers(pcm)
        if label_of(text) == "stop":
            return Heard("stop", SURE_STOP, _heard(text))
        # the phone loop's pass only when a stop came close behind
        guessed = _stop_close_behind(scores) is not None and \
            engine.fit(pcm, score) >= _FIT_OVER_GUIDE
    return Heard("stop", GUESSED_STOP, _heard(text)) if guessed else \
        Heard("none", 1.0, _heard(text))


def _pcm(samples: np.ndarray, sample_rate: int) -> bytes | None:
    """The decoder's input (16 kHz int16, dithered); None when there is no speech."""
    x = to_16k_mono(samples, sample_rate)
    if not has_speech_energy(x):
        return None
    peak = float(np.max(np.abs(x))) or 1.0
    rng = np.random.default_rng(0)
    x = x + rng.normal(0.0, 1e-3 * peak, len(x))          # dither, 60 dB under the peak
    return pcm.to_int16_truncated(x).astype("<i2", copy=False).tobytes()


def _heard(text: str) -> str:
    """Decoded dictionary words as plain text (phrases split, variants unmarked)."""
    return " ".join(w.split("(")[0].replace("_", " ") for w in text.split())


def decide(dec: Decoding) -> Heard:
    """Apply the confidence and safety rules to a :class:`Decoding`."""
    answer = _decide(dec)
    answer.heard = _heard(dec.text)
    return answer


def _decide(dec: Decoding) -> Heard:
    scores = dec.scores
    best = label_of(dec.text)
    if best == "none" and scores:
        real = {k: v for k, v in scores.items() if k != "none"}
        if real:
            best = max(real, key=real.get)
    # margin confidence: softmax over the answers' best scores
    if best in scores:
        top = max(scores.values())
        # Scores are per frame: carrier words dilute the answer word's lead
        # over its rivals, so the temperature shrinks with the answer's share.
        temperature = _MARGIN_TEMPERATURE * min(1.0, max(dec.answer_share, _MIN_SHARE))
        z = sum(math.exp(max((s - top) / temperature, -50.0)) for s in scores.values())
        margin_conf = math.exp(max((scores[best] - top) / temperature, -50.0)) / z
    else:
        margin_conf = 0.0
    acoustic_conf = _sigmoid((dec.gap - _ACOUSTIC_CENTRE) / _ACOUSTIC_SLOPE)
    confidence = round(min(margin_conf, acoustic_conf), 3)

    # Safety first: anything that is or might be "stop" is "stop".
    if best == "stop":
        return Heard("stop", max(confidence, 0.5), dec.text)
    p_stop = _stop_close_behind(scores)
    if p_stop is not None:
        return Heard("stop", p_stop, dec.text)
    if dec.stop_gap <= _STOP_GAP or (dec.stop_gap < 0 and _incoherent(dec.text)):
        # the stop-only search explained the audio clearly better than the
        # winner, or better than a winner that makes no sense as a sentence
        return Heard("stop", GUESSED_STOP, dec.text)
    if best == "none":
        return Heard("none", round(1.0 - confidence, 3), dec.text)
    needed = _MIN_CONFIDENCE_GOOD if best in ("good", "same") else _MIN_CONFIDENCE
    if confidence < needed:
        return Heard("none", round(1.0 - confidence, 3), dec.text)
    return Heard(best, confidence, dec.text)


def _stop_close_behind(scores: dict[str, float]) -> float | None:
    """How likely stop is (0.1..1) when a way of saying it is within
    :data:`_STOP_MARGIN` of the best answer in the n-best list, else None."""
    if "stop" not in scores:
        return None
    behind = max(scores.values()) - scores["stop"]
    if behind > _STOP_MARGIN:
        return None
    return round(min(max(math.exp(-behind / _MARGIN_TEMPERATURE), 0.1), 1.0), 3)


def _incoherent(text: str) -> bool:
    """True when a hypothesis holds more than one answer word ("same good",
    "five five"): nobody answers like that, so the decoder was lost."""
    return sum(1 for w in text.split() if _label(w) is not None) > 1


def _sigmoid(z: float) -> float:
    if math.isnan(z):
        return 0.0
    return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


def recognize_file(path: str | os.PathLike) -> Heard:
    """Recognize the answer spoken in a sound file (WAV or anything libsndfile reads).

    Any sample rate and channel count is accepted.

    Raises:
        InputError: the file cannot be read as audio (the message names the file).
    """
    import soundfile as sf

    p = Path(path)
    try:
        samples, rate = sf.read(str(p), dtype="float32", always_2d=True)
    except Exception as e:  # noqa: BLE001 - libsndfile raises several kinds
        reason = str(e).split(":")[-1].strip() or type(e).__name__
        raise InputError(f"{p}: cannot read as audio ({reason})") from None
    if samples.size == 0:
        raise InputError(f"{p}: the file holds no audio")
    return recognize(samples, rate)
