"""Barge-in: "stop" is heard at any moment, even while the guide speaks.

The microphone hears the guide's own voice as well as the person on the floor.
:class:`BargeIn` takes each microphone block with the time it was captured,
asks the :class:`~voiceguide.hearing.echo.ReferenceStream` what the player was sounding
at that moment, and lets the :class:`~voiceguide.hearing.echo.EchoCanceller` take that
out. What is left is cut into utterances (:class:`~voiceguide.hearing.endpointer.Endpointer`)
and each is decided:

* **while the guide sounds** (speech or cues, or the player says it is about to;
  plus :data:`ECHO_TAIL` for the room's echo) only the stop vocabulary is
  active (:func:`voiceguide.hearing.recognizer.hear_stop`): a sure stop when the words
  the recognizer heard say ``stop`` or a stop sign; an unsure one when such
  words come close behind them and they fit the audio like a person's words
  (the player then pauses and asks "Did you say stop?"). Either is acted on as
  soon as it is heard, without waiting for the end of the utterance;
* **while it is quiet** every answer and command counts, as before.

The guide says "stop" itself, in its safety lines, so it must never stop
itself on what is left of its own voice. The echo canceller takes a guide-only
signal down by 20-40 dB once it has adapted; a person's voice goes through it
almost untouched. So an utterance during the guide's sound whose loud part the
canceller reduced by :data:`ECHO_GATE_DB` or more, or to within
:data:`ECHO_MARGIN_DB` of what it takes out of the guide's voice alone, is the
guide's own voice, and is dropped before the recognizer hears it; so is any
utterance over the guide longer than :data:`BARGE_IN_SECONDS` (a canceller that
lost the echo's timing, after the sound system stalled, lets long stretches of
the guide through; a person saying stop is shorter). The player marks the
blocks in which the guide says a stop word or stop sign itself ("stop if
anything hurts", "numbness or tingling"): what is heard over those lines may be
the guide, so it is dropped too; a stop said then is heard only when said again
(or with the ``s`` key).

For the first seconds of the guide's voice in a session (through a real sound
server, about 8 s) the canceller is still learning the room: until its running
reduction reaches :data:`ADAPTED_DB` (counted once the guide has sounded for
:data:`LEARN_SECONDS`), utterances over the guide's voice are
dropped too, so a stop must be said again in the guide's next pause (the ``s``
key works at any moment). A person's words over the guide are left out of that
running reduction (:meth:`BargeIn._maybe_a_person`). And over the guide, a
block the canceller took down by :data:`ECHO_GATE_DB` is only the guide's
echo to the endpointer: never taken for words, and not followed by its noise
floor (see :meth:`BargeIn._only_the_guide`).

Speed: a stop said over the guide is looked for as soon as :data:`EARLY_QUIET`
seconds of quiet follow it, and again after twice as much (:data:`EARLY_LOOKS`;
once the utterance holds as much loud audio as the endpointer asks of any
utterance), not after the endpointer's full hangover (in the
room simulation: decided a median 0.13 s after the end of the word; through a
real sound server the guide's sound stops a median 0.37-0.40 s after it).

The reference is placed by the output latency the device reports, which can
be wrong (a Bluetooth speaker's is an estimate): the echo then comes before its
reference, or too late for the filter, and is never cancelled. So the echo's
delay is measured from the sound as well (:class:`~voiceguide.hearing.echo.EchoDelay`),
and when it is out of :data:`ECHO_REACH` the reference is moved to where the
echo really is.

Without a reference (the ``barge_in`` setting off, or no speexdsp library) the
listener is deaf while the guide sounds, as it must be: it would hear itself.
"""

from __future__ import annotations

import collections
import logging
import math
from typing import Callable

import numpy as np

from voiceguide.audio import pcm
from voiceguide.hearing import echo
from voiceguide.hearing.endpointer import Endpointer
from voiceguide.hearing.recognizer import Heard, hear_stop, recognize
from voiceguide.trace import trace
from voiceguide.vocabulary import NO_ANSWER, STOP

log = logging.getLogger(__name__)

#: Seconds after the guide's last sound during which the room may still echo it.
ECHO_TAIL = 0.3
#: Reference level (dB full scale, RMS of a block) above which the guide sounds.
SOUNDING_DB = -55.0
#: Seconds of quiet after a stop said over the guide before it is looked for.
EARLY_QUIET = 0.15
#: Looks at a stop said over the guide, after EARLY_QUIET seconds of quiet and
#: again after twice as much, before waiting for the utterance's end. The quiet
#: can come inside the word: the closure before the "p" of "stop" ended the loud
#: part 0.08 s early, the first look heard "sto" as "no", and the stop was
#: decided only at the end of the utterance (0.6 s after the word, the slowest
#: of a session). Replaying 15 recorded sessions (300 stops): with a second
#: look, the slowest decisions in two of them came 0.52 s -> 0.22 s after the
#: word; the same stops heard, none where nobody spoke.
EARLY_LOOKS = 2
#: An utterance the canceller reduced by this much (dB) is the guide's own echo.
ECHO_GATE_DB = 16.0
#: A person's voice goes through the canceller almost untouched, so an utterance
#: over the guide that it took down to within this many dB of what it takes out
#: of the guide's voice alone is the guide itself (this is what tells them apart
#: while the canceller is still learning the room, and :data:`ECHO_GATE_DB` is
#: above what it takes out yet).
ECHO_MARGIN_DB = 6.0
#: Until the canceller takes the guide's voice down this much (dB), it has not
#: learnt the room yet, and what it lets through cannot be told from a person.
ADAPTED_DB = 12.0
#: Seconds over which that echo reduction is averaged.
ADAPT_SECONDS = 1.5
#: Seconds of the guide's sound the canceller hears before that reduction
#: counts. The opening chime alone (2 s, a few pitches) took it to 12 dB while
#: the guide's voice, which followed, went through untouched (the sound
#: arriving 0.15 s later than the device said): the guide's own voice was
#: taken for a person's, and the guide stopped itself twice in its first lines.
LEARN_SECONDS = 4.0
#: An utterance over the guide longer than this (s) is not a person saying stop
#: but what a canceller that lost the echo's timing lets through.
BARGE_IN_SECONDS = 2.5
#: Seconds of echo the adaptive filter covers (room reverberation and latency
#: error). In a simulated living room whose reverberation dies away in 0.4 s
#: (tests/room.py), 0.25 s left enough of the guide's voice for it to stop
#: itself 25 times in the quick routine; from 0.35 s, not once. A longer
#: filter learns the room more slowly: replaying twelve sessions recorded
#: through a real sound server (240 stops said over the guide), up to 0.35 s
#: every stop is heard and sure; with 0.45 s, 236; with 0.6 s, 232.
ECHO_FILTER_TAIL = 0.35
#: Seconds the reference is taken ahead of the capture time: the canceller only
#: models an echo that comes after its reference, and device latencies are estimates.
REFERENCE_LEAD = 0.05
#: The echo's delay behind its reference (s) that the canceller can take out:
#: sooner, it comes with or before the reference (the canceller only models an
#: echo that follows it: in the room simulation, with the echo as early as its
#: reference, 11 stops nobody said were heard in the quick routine; 10 ms after
#: it, none); later, too little of the filter's tail is left
#: for the room's echo. When the echo is measured outside it
#: (:class:`~voiceguide.hearing.echo.EchoDelay`; a device that reports its latency
#: wrongly), the reference is moved so that the echo comes
#: :data:`REFERENCE_LEAD` after it.
ECHO_REACH = (0.02, 0.15)
#: Seconds in one echo-canceller frame; a microphone block holds two.
FRAME_SECONDS = 0.015
#: Frames by which the cancelled signal is taken late against the microphone
#: block it is compared with. The gates above were measured so: earlier
#: versions ran speexdsp's pre-processor after the canceller, which, with its
#: noise suppression off, did nothing but delay its input by one frame.
#: Twelve recorded sessions through a real sound server (240 stops said over
#: the guide), replayed: with one frame every stop heard and sure; with none
#: every stop heard, one only nearly made out ("Did you say stop?") and one
#: decided 0.52 s after the word (the median 30 ms sooner); with two, 8 only
#: nearly made out.
CLEAN_LAG_FRAMES = 1


def block_size(rate: int) -> int:
    """Samples in one microphone block at ``rate`` (two canceller frames, about 30 ms)."""
    return 2 * int(rate * FRAME_SECONDS)


def can_cancel_echo(reference: echo.ReferenceTap | None) -> bool:
    """Whether a :class:`BargeIn` given ``reference`` cancels the guide's voice (and so
    hears stop over it): with a reference and the speexdsp library."""
    return reference is not None and echo.available()


def _energy(block: np.ndarray) -> float:
    x = block.astype(np.float64)
    return float(np.dot(x, x))


class BargeIn:
    """Microphone blocks in, answers out (see the module docstring).

    Args:
        rate: the microphone's sample rate.
        reference: the player's :class:`~voiceguide.hearing.echo.ReferenceTap`, or None.
        recognize: the recognizer (``recognize(samples, rate) -> Heard``).
        hear_stop: the recognizer over the guide's voice, where only a stop
            counts (:func:`voiceguide.hearing.recognizer.hear_stop`).
    """

    def __init__(self, rate: int, reference: echo.ReferenceTap | None = None,
                 recognize: Callable[[np.ndarray, int], Heard] = recognize,
                 hear_stop: Callable[[np.ndarray, int], Heard] = hear_stop):
        self.rate = rate
        self.recognize = recognize
        self.hear_stop = hear_stop
        self.endpointer = Endpointer(rate)
        self.frame = int(rate * FRAME_SECONDS)
        self.canceller = None
        self.reference = None
        self.echo_delay = None
        if can_cancel_echo(reference):
            self.canceller = echo.EchoCanceller(rate, self.frame, ECHO_FILTER_TAIL)
            self.reference = echo.ReferenceStream(reference, rate, lead=REFERENCE_LEAD)
            self.echo_delay = echo.EchoDelay(rate)
        self._anchors = 0     # the reference's anchors the echo delay was measured with
        self._now = 0.0   # capture time of the end of the latest block
        self._lagged = collections.deque([np.zeros(self.frame, np.int16)] * CLEAN_LAG_FRAMES)
        self._blocks: collections.deque = collections.deque(maxlen=int(8 * rate / self.frame))
        self._sounding_until = -math.inf
        self._looked = 0
        self._echo_energy = [0.0, 0.0]   # running mic and cleaned energy while the guide sounds
        self._uncounted: collections.deque = collections.deque()   # see _count_echo
        self._guide_seconds = 0.0     # of the guide's sound counted in the running reduction
        self._adaptation_at_start = 0.0   # the running reduction before the utterance
        self.dropped_as_echo = 0      # utterances taken for the guide's own voice

    @property
    def cancels_echo(self) -> bool:
        """True when the guide's voice is cancelled (and stop heard over it)."""
        return self.canceller is not None

    def feed(self, block: np.ndarray, captured_at: float, speaking: bool) -> Heard | None:
        """One int16 block captured from ``captured_at``; ``speaking``: the player
        says it sounds (or is about to). Returns an answer to act on, or None."""
        if self.canceller is None:
            if speaking:          # deaf: it would hear itself
                self.endpointer.reset()
                return None
            return self._endpoint(block, block, guide=False)
        reference = self.reference.next(captured_at, len(block))
        self._follow_the_echo(block, reference)
        end = self._now = captured_at + len(block) / self.rate
        if _energy(reference) > len(reference) * 10 ** (SOUNDING_DB / 10):
            self._sounding_until = end + ECHO_TAIL
        clean = self._cancel(block, reference)
        return self._endpoint(block, clean, guide=speaking or captured_at < self._sounding_until)

    def _follow_the_echo(self, mic: np.ndarray, reference: np.ndarray) -> None:
        """Measure where the echo really is; move the reference when it is out of
        the canceller's reach (:data:`ECHO_REACH`)."""
        if self.reference.anchors != self._anchors:    # measured against a reference since moved
            self._anchors = self.reference.anchors
            self.echo_delay.reset()
        delay = self.echo_delay.feed(mic, reference)
        if delay is not None and ECHO_REACH[0] <= delay <= ECHO_REACH[1]:
            self.reference.found_in_reach(self._now)
        elif delay is not None:
            trace("echo-delay", delay=round(delay, 4), move=round(delay - REFERENCE_LEAD, 4))
            self.reference.move(delay - REFERENCE_LEAD)
            # what the filter learnt belongs to the old timing: kept, it once made the
            # canceller add sound 30 s later (sound 0.15 s late in the room simulation),
            # which was taken for a person's words
            self.canceller.reset()

    def _only_the_guide(self, mic_energy: float, clean_energy: float, guide: bool) -> bool:
        """Whether a block holds nothing but the guide's own voice: over the
        guide, once the canceller has adapted, one it took down by
        :data:`ECHO_GATE_DB` or more (a person's voice goes through the
        canceller almost untouched). The endpointer never takes such a block
        for words, so what is left of the guide's voice never holds an
        utterance open: a person's words over it make an utterance of their
        own, which ends when they do (see
        :meth:`~voiceguide.hearing.endpointer.Endpointer.feed`, which also keeps a quiet
        sound inside the words that the canceller took down as much)."""
        return guide and self.canceller is not None and self.adapted and \
            mic_energy >= clean_energy * 10 ** (ECHO_GATE_DB / 10)

    def _cancel(self, mic: np.ndarray, reference: np.ndarray) -> np.ndarray:
        ref16 = pcm.to_int16_truncated(reference)
        out = mic.copy()
        for i in range(0, len(mic) - self.frame + 1, self.frame):
            self._lagged.append(self.canceller.process(mic[i:i + self.frame],
                                                       ref16[i:i + self.frame]))
            out[i:i + self.frame] = self._lagged.popleft()
        return out

    @property
    def adaptation_db(self) -> float:
        """How much the canceller takes the guide's voice down (dB), averaged over
        the last :data:`ADAPT_SECONDS` of its sound; 0 until it has sounded for
        :data:`LEARN_SECONDS`."""
        mic, clean = self._echo_energy
        if mic <= 0 or self._guide_seconds < LEARN_SECONDS:
            return 0.0
        return 10 * math.log10(mic / max(clean, 1.0))

    @property
    def adapted(self) -> bool:
        """True once the canceller takes the guide's voice down by :data:`ADAPTED_DB`."""
        return self.adaptation_db >= ADAPTED_DB

    @property
    def _adapted_at_start(self) -> bool:
        """Whether the canceller had learnt the room when the utterance began."""
        return self._adaptation_at_start >= ADAPTED_DB

    def _maybe_a_person(self) -> bool:
        """Whether the utterance in progress may be a person speaking over the
        guide. Its blocks are left out of the canceller's running reduction: a
        person's voice goes through the canceller untouched, and one phrase
        would pull the average under :data:`ADAPTED_DB`, where it stays while
        the guide is quiet (a hold), so a stop said over the next line would
        be dropped."""
        ep = self.endpointer
        return ep.in_speech and self._adapted_at_start and ep.seconds <= BARGE_IN_SECONDS

    def _count_echo(self, samples: int, mic_energy: float, clean_energy: float) -> None:
        """Add a block over the guide to the canceller's running reduction once
        it is known not to be a person's words. The endpointer starts an
        utterance only after a few loud blocks, and the words' onset comes
        before them (its pre-roll), so the newest blocks wait that long, and
        are left out with the rest of the words if a person is speaking
        (:meth:`_maybe_a_person`). Counted at once, the start of a phrase
        said over the end of a line took the running reduction from about
        40 dB to 22-26 dB, where it stayed through the hold that followed;
        the onset of a stop said under the next line's first sound took it
        further, under the gates, and the stop was taken for the guide's
        echo."""
        self._uncounted.append((samples, mic_energy, clean_energy))
        if self._maybe_a_person():
            self._uncounted.clear()
        ep = self.endpointer
        waiting = ep.start_blocks + ep.preroll * self.rate / samples
        while len(self._uncounted) > waiting:
            length, mic, clean = self._uncounted.popleft()
            keep = math.exp(-length / (ADAPT_SECONDS * self.rate))
            self._echo_energy = [keep * self._echo_energy[0] + mic,
                                 keep * self._echo_energy[1] + clean]
            self._guide_seconds += length / self.rate

    def _endpoint(self, mic: np.ndarray, clean: np.ndarray, guide: bool) -> Heard | None:
        ep = self.endpointer
        mic_energy, clean_energy = _energy(mic), _energy(clean)
        only_the_guide = self._only_the_guide(mic_energy, clean_energy, guide)
        if not ep.in_speech:   # judged before the utterance: the user's voice does not count
            self._adaptation_at_start = self.adaptation_db
        utterance = ep.feed(clean, echo=only_the_guide)
        if guide and self.canceller is not None:
            self._count_echo(len(mic), mic_energy, clean_energy)
        self._blocks.append((len(clean), mic_energy, clean_energy, guide, ep.last_loud))
        if utterance is not None:
            self._looked = 0
            return self._decide(utterance, final=True)
        if not ep.in_speech or ep.last_loud:
            self._looked = 0
            return None
        if self._looked < EARLY_LOOKS and ep.quiet_seconds >= EARLY_QUIET * (self._looked + 1) \
                and ep.loud_seconds >= ep.min_speech:
            self._looked += 1
            answer = self._decide(ep.so_far(), final=False)
            if answer is not None:
                ep.reset()
                return answer
        return None

    def _span(self, samples: int):
        """The kept blocks that make up the last ``samples`` samples."""
        span, total = [], 0
        for item in reversed(self._blocks):
            if total >= samples:
                break
            span.append(item)
            total += item[0]
        return span

    def echo_reduction_db(self, samples: int) -> float:
        """How much the canceller took out of the loud part of the last ``samples``."""
        loud = [(m, c) for _, m, c, _, is_loud in self._span(samples) if is_loud]
        mic, clean = sum(m for m, _ in loud), sum(c for _, c in loud)
        if not loud or mic <= 0:
            return 0.0
        return 10 * math.log10(mic / max(clean, 1.0))

    def _guide_said_stop_word(self, samples: int) -> bool:
        """Whether the guide said a stop word during the last ``samples`` (or in the
        echo tail before them): what is heard then may be the guide itself."""
        start = self._now - samples / self.rate - ECHO_TAIL - REFERENCE_LEAD
        return self.reference.tap.says_stop_word(start, self._now + REFERENCE_LEAD)

    def _echo_gate_db(self) -> float:
        """The reduction (dB) from which an utterance over the guide is its echo:
        :data:`ECHO_GATE_DB`, or less while the canceller's running reduction at
        the utterance's start is under ``ECHO_GATE_DB + ECHO_MARGIN_DB``."""
        return min(ECHO_GATE_DB, self._adaptation_at_start - ECHO_MARGIN_DB)

    def _echo_because(self, utterance: np.ndarray, reduction: float) -> str:
        """Why an utterance over the guide is taken for its own echo ("" if not)."""
        if not self._adapted_at_start:
            return "learning the room"
        if reduction >= self._echo_gate_db():
            return "reduced like the guide"
        if len(utterance) > BARGE_IN_SECONDS * self.rate:
            return "too long"
        if self._guide_said_stop_word(len(utterance)):
            return "the guide says a stop word"
        return ""

    def _decide(self, utterance: np.ndarray, final: bool) -> Heard | None:
        # over the guide when it sounded (or its echo rang) in a loud block of the
        # utterance: not in the quiet lead-in before the words, or an answer said
        # right after a question would be taken for words said over the guide
        stop_only = any(guide for _, _, _, guide, loud in self._span(len(utterance)) if loud)
        reduction = self.echo_reduction_db(len(utterance))
        why = self._echo_because(utterance, reduction) if stop_only and self.cancels_echo else ""
        if why:
            self.dropped_as_echo += 1
            trace("utterance", seconds=len(utterance) / self.rate, final=final,
                  reduction=round(reduction, 1), adaptation=round(self._adaptation_at_start, 1),
                  decision="echo", why=why)
            return None
        try:
            answer = (self.hear_stop if stop_only else self.recognize)(utterance, self.rate)
        except Exception:  # noqa: BLE001 - keep listening whatever happens
            log.exception("recognition failed")
            return None
        trace("utterance", seconds=len(utterance) / self.rate, final=final,
              reduction=round(reduction, 1), adaptation=round(self._adaptation_at_start, 1),
              stop_only=stop_only, word=answer.word, confidence=answer.confidence,
              heard=answer.heard)
        if answer.word == STOP and (answer.sure or final or stop_only):
            # an unsure stop while it is quiet waits for the whole utterance (it may
            # go on into another answer); over the guide only stop counts, and an
            # unsure one is asked about at once ("Did you say stop?")
            return answer
        if stop_only or not final or answer.word == NO_ANSWER:
            return None
        return answer
