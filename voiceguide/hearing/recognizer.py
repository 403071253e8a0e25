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
Everything runs offline, in three parts that each read on their own:

* :mod:`voiceguide.hearing.language`: the language the decoder knows (answers
  and carrier phrases, from :mod:`voiceguide.vocabulary`) and what each
  decoded word sequence means;
* :mod:`voiceguide.hearing.decoder`: PocketSphinx, which makes the audio 16 kHz
  mono, skips recordings without speech, and decodes the rest in three passes
  (the answers' language model with its n-best list, a stop-only model, a
  free phone loop) into a :class:`~voiceguide.hearing.decoder.Decoding`;
* this module: the confidences and the safety rules (:func:`decide`).

The confidence of an answer is the lower of two:

* the *margin* confidence: the softmax of the best score of each answer in
  the n-best list (is the winner clearly ahead of the next answer?). Scores
  are per frame, so carriers dilute the answer word's lead: the softmax
  temperature is scaled by the share of spoken frames that fall on answer
  words;
* the *acoustic* confidence: how much worse the winner explains the audio
  than the phone loop does, per frame of speech (speech that is no answer at
  all fits the phone loop far better).

Safety rules, applied last:

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
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voiceguide.errors import InputError
from voiceguide.hearing import decoder
from voiceguide.hearing.decoder import Decoding
from voiceguide.hearing.language import heard_text, label, label_of
from voiceguide.vocabulary import ANSWERS, GOOD, NO_ANSWER, SAME, STOP

#: Every word :func:`recognize` can answer with.
VOCABULARY = ANSWERS

#: A ``stop`` heard with less confidence than this is asked about, not obeyed at once.
SURE_STOP = 0.5

#: The confidence of a stop guessed by a safety rule where no score can say more.
GUESSED_STOP = 0.1

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
        return self.word != STOP or self.confidence >= SURE_STOP


def warm_up() -> None:
    """Create the decoder now (it is otherwise created by the first recognition)."""
    with decoder.engine():
        pass


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
    pcm = decoder.speech_pcm(samples, sample_rate)
    if pcm is None:
        return Heard(NO_ANSWER, 1.0, "")
    with decoder.engine() as engine:
        decoding = engine.decode(pcm)
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
    pcm = decoder.speech_pcm(samples, sample_rate)
    if pcm is None:
        return Heard(NO_ANSWER, 1.0, "")
    with decoder.engine() as engine:
        text, score, scores = engine.answers(pcm)
        if label_of(text) == STOP:
            return Heard(STOP, SURE_STOP, heard_text(text))
        # the phone loop's pass only when a stop came close behind
        guessed = _stop_close_behind(scores) is not None and \
            engine.fit(pcm, score) >= _FIT_OVER_GUIDE
    return Heard(STOP, GUESSED_STOP, heard_text(text)) if guessed else \
        Heard(NO_ANSWER, 1.0, heard_text(text))


def decide(dec: Decoding) -> Heard:
    """Apply the confidence and safety rules to a :class:`~voiceguide.hearing.decoder.Decoding`."""
    heard = _decide(dec)
    heard.heard = heard_text(dec.text)
    return heard


def _decide(dec: Decoding) -> Heard:
    """The rules of :func:`decide` (``heard`` is still the dictionary words)."""
    best = _best(dec)
    confidence = round(min(_margin_confidence(dec, best), _acoustic_confidence(dec)), 3)

    # Safety first: anything that is or might be "stop" is "stop".
    if best == STOP:
        return Heard(STOP, max(confidence, 0.5), dec.text)
    p_stop = _stop_close_behind(dec.scores)
    if p_stop is not None:
        return Heard(STOP, p_stop, dec.text)
    if dec.stop_gap <= _STOP_GAP or (dec.stop_gap < 0 and _incoherent(dec.text)):
        # the stop-only search explained the audio clearly better than the
        # winner, or better than a winner that makes no sense as a sentence
        return Heard(STOP, GUESSED_STOP, dec.text)
    if best == NO_ANSWER:
        return Heard(NO_ANSWER, round(1.0 - confidence, 3), dec.text)
    needed = _MIN_CONFIDENCE_GOOD if best in (GOOD, SAME) else _MIN_CONFIDENCE
    if confidence < needed:
        return Heard(NO_ANSWER, round(1.0 - confidence, 3), dec.text)
    return Heard(best, confidence, dec.text)


def _best(dec: Decoding) -> str:
    """The answer the best hypothesis means; when it means none, the best-scored
    answer in the n-best list, if there is one."""
    best = label_of(dec.text)
    if best == NO_ANSWER and dec.scores:
        real = {k: v for k, v in dec.scores.items() if k != NO_ANSWER}
        if real:
            best = max(real, key=real.get)
    return best


def _margin_confidence(dec: Decoding, best: str) -> float:
    """The softmax of ``best``'s score over the answers' best scores (0 when the
    n-best list does not hold it)."""
    scores = dec.scores
    if best not in scores:
        return 0.0
    top = max(scores.values())
    # Scores are per frame: carrier words dilute the answer word's lead
    # over its rivals, so the temperature shrinks with the answer's share.
    temperature = _MARGIN_TEMPERATURE * min(1.0, max(dec.answer_share, _MIN_SHARE))
    z = sum(math.exp(max((s - top) / temperature, -50.0)) for s in scores.values())
    return math.exp(max((scores[best] - top) / temperature, -50.0)) / z


def _acoustic_confidence(dec: Decoding) -> float:
    """How well the best answer explains the audio, next to the free phone loop."""
    return _sigmoid((dec.gap - _ACOUSTIC_CENTRE) / _ACOUSTIC_SLOPE)


def _stop_close_behind(scores: dict[str, float]) -> float | None:
    """How likely stop is (0.1..1) when a way of saying it is within
    :data:`_STOP_MARGIN` of the best answer in the n-best list, else None."""
    if STOP not in scores:
        return None
    behind = max(scores.values()) - scores[STOP]
    if behind > _STOP_MARGIN:
        return None
    return round(min(max(math.exp(-behind / _MARGIN_TEMPERATURE), 0.1), 1.0), 3)


def _incoherent(text: str) -> bool:
    """True when a hypothesis holds more than one answer word ("same good",
    "five five"): nobody answers like that, so the decoder was lost."""
    return sum(1 for w in text.split() if label(w) is not None) > 1


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
        regular = stat.S_ISREG(os.stat(p).st_mode)
    except OSError:
        regular = True   # missing or unreadable: libsndfile says why, below
    if not regular:   # a FIFO would block the read forever, a folder cannot be read
        raise InputError(f"{p}: not a regular file")
    try:
        samples, rate = sf.read(str(p), dtype="float32", always_2d=True)
    except Exception as e:  # noqa: BLE001 - libsndfile raises several kinds
        reason = str(e).split(":")[-1].strip() or type(e).__name__
        raise InputError(f"{p}: cannot read as audio ({reason})") from None
    if samples.size == 0:
        raise InputError(f"{p}: the file holds no audio")
    return recognize(samples, rate)
