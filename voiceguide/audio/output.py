"""The sound side of play: a ``sounddevice`` output stream and its callback.

:class:`Output` plays *segments*: a preloaded
:class:`~voiceguide.audio.renderer.Renderer` from one sample up to a limit. The
stream's callback renders straight from clips that were read and prepared
before play: it only copies slices of ready arrays into the device buffer,
never touches the disk, never synthesizes and never blocks. So it cannot
starve, even on a device with no clock, and what plays is sample for sample
what ``export`` writes.

Two threads share an :class:`Output`, in the style of python-sounddevice: the
caller's (a control loop) queues segments with :meth:`Output.play`, pauses,
hushes and stops; the callback takes the queued segments up through a
``collections.deque`` (append and popleft are atomic), moves the playhead
(:attr:`Output.position`), and marks a segment :attr:`Output.reached` when its
limit is played. The callback writes every block it plays into the
:class:`~voiceguide.hearing.echo.ReferenceTap`, if one is given, stamped with
when it is heard. This module knows nothing of terminals or check-ins.
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import os
import sys
import threading
import time
from dataclasses import dataclass

import numpy as np

from voiceguide.audio import devices, pcm
from voiceguide.audio.clock import StreamClock
from voiceguide.audio.devices import NO_DEVICE, resolve_output, sounddevice
from voiceguide.audio.renderer import Renderer
from voiceguide.errors import DeviceError
from voiceguide.timing.timeline import SAMPLE_RATE, Timeline
from voiceguide.trace import trace
from voiceguide.vocabulary import says_stop_word

CALLBACK_FRAMES = 1024    # 46 ms: a pause takes effect within ~100 ms
CLOSE_WAIT = 1.0          # seconds to wait for PortAudio to let go of a dead device

CONTINUE = -1            # a segment that goes on from wherever the playhead is


@contextlib.contextmanager
def quiet_c_stderr():
    """Silence what C libraries (PortAudio, ALSA) print, keep Python's stderr.

    PortAudio's ALSA layer prints diagnostics from its own thread when a device
    misbehaves. File descriptor 2 points at /dev/null meanwhile, and
    ``sys.stderr`` at a copy of the real one, so voiceguide's own messages still
    reach the user.
    """
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    previous = sys.stderr
    previous.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1,
                           encoding=getattr(previous, "encoding", None) or "utf-8",
                           errors="backslashreplace")
    try:
        yield
    finally:
        sys.stderr.flush()
        sys.stderr.close()
        sys.stderr = previous
        os.dup2(saved, 2)
        os.close(saved)


def _close(stream, drain: bool = False) -> None:
    """Stop and close ``stream`` without ever hanging on a device that went away.

    ``drain`` lets the last buffer play out first. PortAudio can block forever
    on a dead device, so this runs in a helper thread with a time limit; if it
    does not return, :func:`~voiceguide.audio.devices.mark_stuck` is called.
    """
    def work() -> None:
        try:
            if drain and stream.active:
                stream.stop()
            stream.abort()
            stream.close()
        except Exception:  # the device is gone: nothing more to do with it
            pass

    worker = threading.Thread(target=work, daemon=True, name="voiceguide-close")
    worker.start()
    worker.join(CLOSE_WAIT + (stream.latency if drain else 0.0))
    if worker.is_alive():
        devices.mark_stuck()


@dataclass(frozen=True)
class Segment:
    """What the callback plays: a renderer from ``start`` up to ``limit``."""

    renderer: Renderer
    start: int           # where to play from, or CONTINUE: on from the playhead
    limit: int
    mark: int            # what the segment ends at, for whoever queued it
    stop_words: tuple = ((), ())   # (starts, ends) of the lines that say a stop word


def stop_word_spans(timeline: Timeline) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(starts, ends) in samples of the spoken lines of ``timeline`` that say a
    stop word or stop sign, in order (a check-in's question, not its pause)."""
    spans = [(e.start, e.end - e.pause) for e in timeline.events
             if e.text is not None and says_stop_word(e.text)]
    return tuple(a for a, _ in spans), tuple(b for _, b in spans)


def play_clip(clip: np.ndarray, device: str | None = None) -> None:
    """Play one clip to the end (a voice preview)."""
    sd = sounddevice()
    index = resolve_output(device)
    audio = pcm.to_float(clip) if clip.dtype == np.int16 else clip
    try:
        sd.play(audio, SAMPLE_RATE, device=index, blocking=True)
    except sd.PortAudioError as err:
        raise DeviceError(f"{NO_DEVICE} ({str(err).splitlines()[0]})") from None


class Output:
    """Segments played through a ``sounddevice`` output stream, from a callback
    that never blocks.

    ``device`` is an output device spec (see
    :func:`~voiceguide.audio.devices.resolve_output`); ``reference`` an
    :class:`~voiceguide.hearing.echo.ReferenceTap` that receives every block
    played, stamped with when it is heard (and whether the guide says a stop
    word in it), for the listener's echo canceller.

    The caller's thread uses :meth:`play`, :meth:`hush`, :meth:`stop`,
    :attr:`paused` and reads :attr:`position`, :attr:`reached` and the times
    below; everything else is the callback's.
    """

    def __init__(self, device: str | None = None, reference=None):
        self.device = device
        self.reference = reference
        self.position = 0             # the playhead, in the segment's timeline
        self.paused = False
        self.stopped = False          # only quiet from the next callback on, for good
        self.reached: Segment | None = None   # the segment whose limit was played
        self.first_sound_at: float | None = None
        self.switched_at: float | None = None   # when the latest segment was first heard
        self.hushed_at: float | None = None     # when the latest hush was first heard
        self.stream = None
        self._commands: collections.deque[Segment] = collections.deque()
        self._segment: Segment | None = None
        self._hushed = False          # silent until the next play (see hush)
        self._latency = 0.1
        self._clock = StreamClock(None)   # no stream yet: callback times fall back
        self._scratch = np.zeros(0, np.float32)
        self._heartbeat = 0.0
        self._ratio = 1.0             # timeline samples per device frame

    # ------------------------------------------------------------ the caller's side
    def play(self, segment: Segment) -> None:
        """Play ``segment`` from the next callback on (after those queued before).
        A segment with a start ends a :meth:`hush`; a continuation does not."""
        self._commands.append(segment)
        if segment.start != CONTINUE:
            self._hushed = False  # after the command: the old segment is never heard again

    def hush(self) -> None:
        """Silence from the next callback on, until the next :meth:`play`: the sound
        stops at once while what comes next (the stop path) is being prepared,
        which can take a second on a busy machine. The playhead stays where it is."""
        self.hushed_at = None
        self._hushed = True

    def stop(self) -> None:
        """Only quiet from the next callback on; the stream stays open."""
        self.stopped = True

    def heading(self) -> int:
        """Where play is going: the start of a segment not yet taken up by the
        callback, or the playhead."""
        # the latest segment queued with a start, even with a continuation queued
        # after it; the copy is taken whole, although the callback may take
        # commands at any moment
        for segment in reversed(list(self._commands)):
            if segment.start != CONTINUE:
                return segment.start
        return self.position

    @property
    def switching(self) -> bool:
        """True while a queued segment has not been taken up by the callback."""
        return bool(self._commands)

    @property
    def latency(self) -> float:
        """The stream's output latency in seconds (a guess before it is open)."""
        return self._latency

    def silent_for(self) -> float:
        """Seconds since the callback last ran (since :meth:`start` at first)."""
        return time.monotonic() - self._heartbeat

    def refresh_clock(self) -> None:
        """Let the stream's clock follow the monotonic one (call it now and then)."""
        self._clock.refresh()

    # ------------------------------------------------------------------ the stream
    def open(self) -> None:
        """Open the stream (not started yet), at the timeline's rate if the device
        takes it, else at the device's own rate with resampling."""
        self.stream = self._open_stream()
        self._latency = self.stream.latency
        self._clock = StreamClock(self.stream)
        if self.reference is not None:
            self.reference.start(self.stream.samplerate)

    def _open_stream(self):
        sd = sounddevice()
        device = resolve_output(self.device)
        settings = dict(channels=1, dtype="float32", callback=self._callback,
                        blocksize=CALLBACK_FRAMES, device=device)
        try:
            return sd.OutputStream(samplerate=SAMPLE_RATE, **settings)
        except sd.PortAudioError:
            pass
        try:  # the device refuses 22050 Hz: play at its own rate and resample
            rate = float(sd.query_devices(device, "output")["default_samplerate"])
            self._ratio = SAMPLE_RATE / rate
            self._scratch = np.zeros(int(CALLBACK_FRAMES * self._ratio) + 2, np.float32)
            return sd.OutputStream(samplerate=rate, **settings)
        except (sd.PortAudioError, ValueError) as err:
            raise DeviceError(f"{NO_DEVICE} ({str(err).splitlines()[0]})") from None

    def start(self) -> None:
        """Start the open stream: the callback runs from now on."""
        self.stream.start()
        self._heartbeat = time.monotonic()
        trace("stream-started", rate=self.stream.samplerate)

    def close(self, drain: bool = False) -> None:
        """Stop and close the stream, never hanging (``drain``: the last buffer
        plays out first)."""
        _close(self.stream, drain=drain)

    # ------------------------------------------------------------------ callback
    def _callback(self, outdata, frames, time_info, status) -> None:
        self._heartbeat = now = time.monotonic()
        out = outdata[:, 0]
        switched = bool(self._commands)
        hushed = self._hushed and self.hushed_at is None   # read first: this block is silent
        start = self.position
        self._fill(out, frames)
        if self.reference is not None or switched or hushed:
            heard_at = self._clock.at(time_info.outputBufferDacTime, now, self._latency)
            if switched:
                self.switched_at = heard_at
            if hushed:
                self.hushed_at = heard_at
            if self.reference is not None:
                self.reference.write(out, heard_at, self._says_stop_word(start))

    def _says_stop_word(self, start: int) -> bool:
        """Whether the block just played, from ``start`` to the playhead, holds a
        line in which the guide says a stop word (so barge-in must not listen)."""
        segment = self._segment
        if segment is None or self.position <= start:
            return False
        starts, ends = segment.stop_words
        index = bisect.bisect_right(starts, self.position) - 1
        return index >= 0 and ends[index] > start

    def _fill(self, out, frames) -> None:
        while self._commands:
            self._segment = self._commands.popleft()
            if self._segment.start != CONTINUE:
                self.position = self._segment.start
            self.reached = None
        segment = self._segment
        if self.paused or self.stopped or self._hushed or self.reached is not None or \
                segment is None:
            out.fill(0)
            return
        if self._ratio == 1.0:
            count = max(0, min(frames, segment.limit - self.position))
            segment.renderer.render_into(out[:count], self.position)
            out[count:] = 0
        else:
            count = max(0, min(int(frames * self._ratio), segment.limit - self.position))
            scratch = self._scratch[:count]
            segment.renderer.render_into(scratch, self.position)
            out[:] = np.interp(np.arange(frames) * self._ratio, np.arange(count), scratch,
                               right=0.0) if count else 0.0
        if self.first_sound_at is None and count and out[:count].any():
            self.first_sound_at = time.monotonic()
        self.position += count
        if self.position >= segment.limit:
            self.reached = segment
