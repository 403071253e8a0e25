"""Cutting a stream of microphone blocks into utterances, by their energy."""

from __future__ import annotations

import collections

import numpy as np

from voiceguide.audio import pcm


class Endpointer:
    """Energy-based utterance detection on a stream of mono float blocks.

    A block is *loud* when its RMS level is both ``start_db`` above the tracked
    noise floor and above ``min_level_db`` (dB full scale).  An utterance starts
    after ``start_blocks`` loud blocks in a row (``preroll`` seconds before it
    are kept), and ends after ``hangover`` seconds without a loud block, or when
    it reaches ``max_seconds``.  Utterances with less than ``min_speech``
    seconds of loud audio are dropped as clicks or bumps.  A block the caller
    knows to be only the guide's echo is never loud (see :meth:`feed`).
    """

    #: Quiet blocks next to the words (before the first loud block, after the
    #: last) that keep their own audio too (see :meth:`feed`). Replayed on nine
    #: recorded real-path sessions (180 stops said over the guide): with none,
    #: the onset of klatt4's "tingling" under the guide's loudest syllable was
    #: quietened and the word heard as "it is okay" in 2 of 180; with one (30 ms)
    #: or two, every stop heard and sure, and no stop heard in 40 sessions of
    #: the guide alone.
    EDGE_BLOCKS = 1

    def __init__(self, rate: int, *, start_db: float = 10.0, min_level_db: float = -50.0,
                 start_blocks: int = 2, preroll: float = 0.3, hangover: float = 0.6,
                 max_seconds: float = 6.0, min_speech: float = 0.12,
                 echo_db: float = -30.0):
        self.rate = rate
        self.start_db = start_db
        self.min_level_db = min_level_db
        self.start_blocks = start_blocks
        self.preroll = preroll
        self.hangover = hangover
        self.max_seconds = max_seconds
        self.min_speech = min_speech
        self.echo_db = echo_db
        self.floor_db: float | None = None
        self.reset()

    def reset(self) -> None:
        """Forget any utterance in progress (the noise floor is kept)."""
        self._pre: collections.deque[tuple[np.ndarray, np.ndarray]] = collections.deque()
        self._pre_len = 0
        self._utt: list[tuple[np.ndarray, np.ndarray]] = []   # (block, its own audio)
        self._first_loud_index = -1
        self._utt_len = 0
        self._loud_run = 0
        self._loud_total = 0
        self._quiet = 0
        self.in_speech = False
        self.last_loud = False

    def _blocks_seconds(self, count: int) -> float:
        """Seconds in ``count`` blocks of the utterance in progress (0 when there is none)."""
        block = len(self._utt[-1][0]) if self._utt else 0
        return count * block / self.rate if self.in_speech else 0.0

    @property
    def quiet_seconds(self) -> float:
        """Seconds of quiet since the last loud block of the utterance in progress."""
        return self._blocks_seconds(self._quiet)

    @property
    def seconds(self) -> float:
        """Length of the utterance in progress (s); 0 when there is none."""
        return self._utt_len / self.rate if self.in_speech else 0.0

    @property
    def loud_seconds(self) -> float:
        """Seconds of loud blocks in the utterance in progress; one with less than
        ``min_speech`` of them is no utterance yet (a click, a bump)."""
        return self._blocks_seconds(self._loud_total)

    def so_far(self) -> np.ndarray:
        """The utterance in progress, as it is now (empty when there is none)."""
        return self._assemble() if self.in_speech and self._utt else np.zeros(0)

    def _assemble(self) -> np.ndarray:
        """The utterance's blocks, with their own audio from :attr:`EDGE_BLOCKS`
        before the first loud block to as many after the last (see :meth:`feed`)."""
        first = self._first_loud_index - self.EDGE_BLOCKS
        last = len(self._utt) - 1 - self._quiet + self.EDGE_BLOCKS   # the last loud block's
        return np.concatenate([own if first <= i <= last else block
                               for i, (block, own) in enumerate(self._utt)])

    def _follow_floor(self, level: float, loud: bool, echo: bool) -> None:
        """The floor follows quiet audio quickly downwards, slowly upwards."""
        if echo or loud:
            return
        if level < self.floor_db:
            self.floor_db = 0.7 * self.floor_db + 0.3 * level
        else:
            self.floor_db = 0.98 * self.floor_db + 0.02 * level

    def _level(self, block: np.ndarray) -> float:
        x = pcm.to_float(block, np.float64) if block.dtype.kind == "i" else \
            block.astype(np.float64)
        return 10.0 * float(np.log10(np.mean(x ** 2) + 1e-12))

    def feed(self, block: np.ndarray, *, echo: bool = False) -> np.ndarray | None:
        """Add one block (int16, or float in -1..1); returns a finished utterance or None.

        ``echo``: the block holds nothing but what the echo canceller left of
        the guide's own voice (barge-in's judgement). It is never loud, and
        the noise floor does not follow it: a fan's steady noise goes through
        the canceller untouched, and a floor pulled down by quietened echo
        blocks took that noise for words. In the utterance, a quiet block
        between two loud ones is a quiet sound inside the words (the nasal end
        of "numb" under a loud echo), and one right before or after them
        (:attr:`EDGE_BLOCKS`) may be their onset or end: these keep their own
        audio. Further out, in the pre-roll and the quiet after the words, an
        echo block is quietened by ``echo_db`` (what is left of the guide
        there made a stop come out as "zero").
        """
        own = np.asarray(block).reshape(-1)
        block = (own * 10 ** (self.echo_db / 20)).astype(own.dtype) if echo else own
        level = self._level(own)
        if self.floor_db is None and not echo:
            self.floor_db = level
        loud = not echo and level >= self.floor_db + self.start_db and \
            level >= self.min_level_db
        self.last_loud = loud
        if not self.in_speech:
            self._follow_floor(level, loud, echo)
            self._pre.append((block, own))
            self._pre_len += len(block)
            while self._pre_len - len(self._pre[0][0]) >= self.preroll * self.rate + \
                    self.start_blocks * len(block):
                self._pre_len -= len(self._pre.popleft()[0])
            self._loud_run = self._loud_run + 1 if loud else 0
            if self._loud_run >= self.start_blocks:
                self.in_speech = True
                self._utt = list(self._pre)
                self._utt_len = self._pre_len
                self._first_loud_index = len(self._utt) - self.start_blocks
                self._pre.clear()
                self._pre_len = 0
                self._loud_total = self._loud_run
                self._quiet = 0
            return None
        self._utt.append((block, own))
        self._utt_len += len(block)
        if loud:
            self._loud_total += 1
            self._quiet = 0
        else:
            self._quiet += 1
        if self._quiet * len(block) >= self.hangover * self.rate or \
                self._utt_len >= self.max_seconds * self.rate:
            return self._finish()
        return None

    def flush(self) -> np.ndarray | None:
        """End of input: the utterance in progress, if any (else None)."""
        if self.in_speech and self._utt:
            return self._finish()
        return None

    def _finish(self) -> np.ndarray | None:
        utt = self._assemble()
        speech = self.loud_seconds
        self.reset()
        return utt if speech >= self.min_speech else None
