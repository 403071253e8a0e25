"""Speech for a routine synthesized in the background, ahead of the playhead."""

from __future__ import annotations

import collections
import threading
from typing import TYPE_CHECKING

from voiceguide.timing.compiler import compile_routine, estimated_speech
from voiceguide.timing.timeline import Timeline

if TYPE_CHECKING:
    from voiceguide.session.prepare import Prepared


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

    def __init__(self, prepared: Prepared):
        self.prepared = prepared
        self.ready: set[str] = set()
        self.error: BaseException | None = None
        self._queue: collections.deque[str] = collections.deque()
        self._queued: set[str] = set()
        self._routine_texts: set[str] = set()   # what the routine's timeline needs
        self._changed = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name="voiceguide-synthesis")

    def is_ready(self, text: str) -> bool:
        """True if ``text``'s clip exists."""
        return text in self.ready

    def start(self) -> Timeline:
        """The first timeline; synthesis of what it lacks starts in the background."""
        timeline = self._compile(first=True)
        self._want(timeline)
        self._thread.start()
        return timeline

    def _length(self, estimate):
        speech = self.prepared.speech

        def length(text: str) -> float:
            return speech.seconds(text) if text in self.ready else estimate(text)

        return length

    def _compile(self, first: bool = False) -> Timeline:
        prepared = self.prepared
        estimate = estimated_speech(prepared.pacing.rate)
        if first:
            texts = compile_routine(prepared.routine, prepared.pacing, estimate,
                                    prepared.library.phrases, prepared.library.positions,
                                    notice=prepared.notice).texts()
            missing = set(prepared.speech.missing(texts))
            self.ready.update(t for t in texts if t not in missing)
        return compile_routine(prepared.routine, prepared.pacing, self._length(estimate),
                               prepared.library.phrases, prepared.library.positions,
                               notice=prepared.notice)

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
                self.prepared.synthesize(chunk)
                self.ready.update(chunk)
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
        if playing is not self.prepared.timeline or not self._changed.is_set():
            return None
        self._changed.clear()
        timeline = self._compile()
        self._want(timeline)   # a real length may make room for a cue not yet made
        self.prepared.timeline = timeline
        return timeline
