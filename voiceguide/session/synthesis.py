"""Speech for a routine synthesized in the background, ahead of the playhead, and the
routine's live timeline that grows with it.

:class:`Synthesis` is given what it needs (the speech, the routine's compile function,
the speech-length estimate) and owns the routine's latest timeline
(:attr:`Synthesis.timeline`); :class:`~voiceguide.session.prepare.Prepared` and the
player ask it for that timeline, and nothing here reaches back into them.
"""

from __future__ import annotations

import collections
import threading
from typing import TYPE_CHECKING, Callable, Iterable

from voiceguide.timing.compiler import SpeechLength
from voiceguide.timing.timeline import Timeline

if TYPE_CHECKING:
    from voiceguide.speech import Speech

#: A routine's compile for any speech lengths: ``compile(lengths) -> Timeline``.
Compile = Callable[[SpeechLength], Timeline]


class Synthesis:
    """Speech for the routine synthesized in the background, ahead of the playhead.

    Clips are made in the order they are first heard, a few at a time, so play
    can start as soon as the first ones exist. The timeline is compiled with the
    real length of every clip made so far and an estimate for the others; as the
    compiler works front to back, everything before the first estimated clip (the
    *horizon*) already has its final samples, and the player never goes past it.
    """

    CHUNK = 6   # clips per synthesis call: small, so the first ones come quickly
    FIRST_CHUNK = 1   # the very first call: one clip, so a slow engine (Piper) starts soon

    def __init__(self, speech: Speech, compile: Compile, estimate: SpeechLength):
        self.speech = speech
        self.ready: set[str] = set()
        self.error: BaseException | None = None
        self._timeline: Timeline | None = None
        self._compile = compile
        self._estimate = estimate
        self._lock = threading.Lock()   # one synthesis at a time: the background's or make()'s
        self._queue: collections.deque[str] = collections.deque()
        self._queued: set[str] = set()
        self._routine_texts: set[str] = set()   # what the routine's timeline needs
        self._changed = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name="voiceguide-synthesis")

    @property
    def timeline(self) -> Timeline | None:
        """The routine's latest timeline: set by :meth:`start`, renewed by :meth:`refresh`."""
        return self._timeline

    def is_ready(self, text: str) -> bool:
        """True if ``text``'s clip exists."""
        return text in self.ready

    def lengths(self, texts: Iterable[str]) -> SpeechLength:
        """The speech lengths to compile with: real for every clip ready, estimated for
        the rest. The clips of ``texts`` already in the cache count as ready from now on."""
        texts = list(texts)
        missing = set(self.speech.missing(texts))
        self.ready.update(t for t in texts if t not in missing)
        return self._length

    def _length(self, text: str) -> float:
        return self.speech.seconds(text) if text in self.ready else self._estimate(text)

    def start(self, timeline: Timeline) -> Timeline:
        """Take ``timeline`` (compiled with :meth:`lengths`) as the first one, and start
        synthesizing what it lacks in the background."""
        self._timeline = timeline
        self._want(timeline)
        self._thread.start()
        return timeline

    def make(self, texts: Iterable[str]) -> None:
        """Synthesize ``texts`` now, in the calling thread: the background one, or a
        message's (one synthesis at a time)."""
        texts = list(texts)
        with self._lock:
            self.speech.prepare(texts, levelled=True)
        self.ready.update(texts)

    def _want(self, timeline: Timeline) -> None:
        """Queue what ``timeline`` lacks, ahead of anything else still waiting."""
        wanted = [t for t in timeline.texts() if t not in self.ready and t not in self._queued]
        self._routine_texts.update(wanted)
        self._queued.update(wanted)
        self._queue.extendleft(reversed(wanted))
        self._wake.set()

    def _run(self) -> None:
        size = self.FIRST_CHUNK
        try:
            while True:
                chunk = [self._queue.popleft() for _ in range(min(size, len(self._queue)))]
                if chunk:
                    size = min(self.CHUNK, 2 * size)
                if not chunk:
                    self._wake.wait()
                    self._wake.clear()
                    continue
                self.make(chunk)
                if self._routine_texts.intersection(chunk):
                    self._changed.set()   # the routine can play further
        except BaseException as err:  # reported on the main thread by refresh()
            self.error = err
            self._changed.set()

    def also(self, texts) -> None:
        """Synthesize these too, after what the routine needs."""
        for text in texts:
            if text not in self.ready and text not in self._queued:
                self._queued.add(text)
                self._queue.append(text)
        self._wake.set()

    def horizon(self, timeline: Timeline) -> int:
        """The first sample of ``timeline`` whose speech is not synthesized yet."""
        for event in timeline.events:
            if event.text is not None and event.text not in self.ready:
                return event.start
        return timeline.total_samples

    def refresh(self, playing: Timeline) -> Timeline | None:
        """A newer routine timeline, when more clips are ready; else None.

        Only while the routine itself plays (``playing`` is its latest timeline):
        a message (stop, an acknowledgement, a question) is never swapped for the routine.
        """
        if self.error is not None:
            raise self.error
        if playing is not self._timeline or not self._changed.is_set():
            return None
        self._changed.clear()
        timeline = self._compile(self._length)
        self._want(timeline)   # a real length may make room for a cue not yet made
        self._timeline = timeline
        return timeline
