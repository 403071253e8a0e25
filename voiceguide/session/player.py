"""Player: a timeline played through a ``sounddevice`` output stream.

The stream's callback renders straight from clips that were read and prepared
before play (a :class:`~voiceguide.audio.renderer.Renderer` with ``preload``): it only
copies slices of ready arrays into the device buffer, never touches the disk,
never synthesizes and never blocks. So it cannot starve, even on a device with
no clock, and what plays is sample for sample what ``export`` writes.

The control loop (the caller's thread) handles keys, check-in gates, the status
line and the end. It talks to the callback through a ``collections.deque`` of
commands (append and popleft are atomic): a seek, or a new timeline to play
(an acknowledgement, a "Did you say stop?" question, or the stop message).
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
from typing import Callable

import numpy as np

from voiceguide.audio.devices import NO_DEVICE, resolve_output, sounddevice
from voiceguide.hearing.echo import StreamClock
from voiceguide.errors import DeviceError
from voiceguide.audio.renderer import Renderer
from voiceguide.terminal import StatusLine
from voiceguide.timing.timeline import SAMPLE_RATE, Event, EventKind, Timeline, clock, seconds
from voiceguide.trace import trace
from voiceguide.vocabulary import says_stop_word

CALLBACK_FRAMES = 1024    # 46 ms: a pause takes effect within ~100 ms
TICK = 0.02               # control loop period in seconds
LATE_KEY_WINDOW = 5.0     # seconds after a yes/no question timed out: y/n are ignored
SILENT_DEVICE = 3.0       # seconds without a callback: the device has gone away
CLOSE_WAIT = 1.0          # seconds to wait for PortAudio to let go of a dead device

#: Set when PortAudio could not let go of a device: the process should then exit
#: without waiting for PortAudio's own clean-up, which would hang too.
stuck = False


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
    does not return, :data:`stuck` is set.
    """
    global stuck

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
        stuck = True


@dataclass(frozen=True)
class _Segment:
    """What the callback plays: a renderer from ``start`` up to ``limit``."""

    renderer: Renderer
    start: int           # where to play from, or CONTINUE: on from the playhead
    limit: int
    gate: int            # the check-in event's index at ``limit``, END or HORIZON
    stop_words: tuple = ((), ())   # (starts, ends) of the lines that say a stop word


CONTINUE = -1            # a segment that goes on from wherever the playhead is
END = -1                 # the segment ends where the timeline ends
HORIZON = -2             # the segment ends where speech is not synthesized yet


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
    audio = clip.astype(np.float32) / 32768.0 if clip.dtype == np.int16 else clip
    try:
        sd.play(audio, SAMPLE_RATE, device=index, blocking=True)
    except sd.PortAudioError as err:
        raise DeviceError(f"{NO_DEVICE} ({str(err).splitlines()[0]})") from None


class Player:
    """Plays timelines with keys, check-in gates and a status line.

    ``make_renderer(timeline)`` builds a preloaded renderer for a timeline.
    ``on_gate(player, event)`` is called at each check-in gate when ``checkins``
    is on, once the question has been heard; it waits for an answer and returns
    ``None`` to go on after the check-in, or ``(timeline, position)`` to play
    next. ``keys`` is a queue of key presses (or ``None``); ``status`` a stream
    for the one-line status (or ``None``). Outside check-ins, words from
    ``inbox`` (voice) and the ``s`` key go to ``on_word(player, answer)``.
    ``on_quiet(bool)`` hears when the player falls quiet or is about to speak,
    so a microphone can listen only while nothing plays. ``pending`` is for a
    timeline whose speech is still being synthesized: ``pending.horizon(t)`` is
    the first sample of ``t`` that cannot be played yet, and ``pending.refresh(t)``
    a newer timeline when more speech is ready (``None`` otherwise, and whenever
    ``t``, the timeline playing, is not the routine's). ``reference`` (an
    :class:`~voiceguide.hearing.echo.ReferenceTap`) receives every block played, stamped
    with when it is heard, for the listener's echo canceller.
    """

    def __init__(self, timeline: Timeline, make_renderer: Callable[[Timeline], Renderer], *,
                 device: str | None = None, checkins: bool = True,
                 on_gate: Callable[["Player", Event], object] | None = None,
                 keys=None, status=None, inbox=None, on_word=None, on_quiet=None,
                 pending=None, reference=None):
        self.make_renderer = make_renderer
        self.device = device
        self.checkins = checkins and on_gate is not None
        self.on_gate = on_gate
        self.keys = keys
        self.status = status
        self._status_line = StatusLine(status) if status is not None else None
        self.yes_no_closed_at = -1e9   # when a yes/no question last timed out
        self._asked: Event | None = None   # the check-in waiting for its answer
        self.pending = pending
        self.reference = reference
        self.switched_at: float | None = None   # when the latest seek was first heard
        self.inbox = inbox
        self.on_word = on_word
        self.on_quiet = on_quiet
        self.gate_help = ""
        self._early_keys: list[str] = []
        self._quiet = False
        self._latency = 0.1
        self._clock = StreamClock(None)   # no stream yet: callback times fall back
        self._reached_at: float | None = None
        self.ending = "completed"
        self.first_sound_at: float | None = None
        self.paused = False
        self.position = 0
        self._take(timeline)
        self._commands: collections.deque[_Segment] = collections.deque()
        self._segment: _Segment | None = None
        self._reached: _Segment | None = None
        self._stopping = False
        self._hushed = False          # silent until the next seek (see hush)
        self.hushed_at: float | None = None   # when the latest hush was first heard
        self._scratch = np.zeros(0, np.float32)
        self._heartbeat = 0.0
        self._ratio = 1.0             # timeline samples per device frame
        self.seek(0)

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
            self._reached = None
        segment = self._segment
        if self.paused or self._stopping or self._hushed or self._reached is not None or \
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
            self._reached = segment

    # ------------------------------------------------------------------ controls
    def _stop_after(self, start: int) -> tuple[int, int]:
        """Where play from ``start`` must stop: the next gate, the horizon or the end."""
        limit, gate = self.timeline.total_samples, END
        if self.checkins:
            for index in range(self.timeline.event_index_at(start), len(self.timeline.events)):
                event = self.timeline.events[index]
                if event.kind == EventKind.CHECKIN and event.end - event.pause >= start:
                    limit, gate = event.end - event.pause, index
                    break
        if self.pending is not None and self.timeline is self.pending.timeline:
            horizon = self.pending.horizon(self.timeline)
            if horizon < limit:
                limit, gate = horizon, HORIZON
        return limit, gate

    def _take(self, timeline: Timeline) -> None:
        """Make ``timeline`` the one played from the next segment on."""
        self._renderer = self.make_renderer(timeline)
        self._stop_words = stop_word_spans(timeline)
        self.timeline = timeline

    def seek(self, sample: int, timeline: Timeline | None = None) -> None:
        """Play from ``sample`` (of ``timeline``, when given, replacing the current one)."""
        if timeline is not None and timeline is not self.timeline:
            self._take(timeline)
        start = max(0, min(sample, self.timeline.total_samples))
        limit, gate = self._stop_after(start)
        self._reached_at = None
        self._early_keys = []
        self._commands.append(_Segment(self._renderer, start, limit, gate, self._stop_words))
        self._hushed = False      # after the command: the old segment is never heard again

    def hush(self) -> None:
        """Silence from the next callback on, until the next :meth:`seek`: the sound
        stops at once while what comes next (the stop path) is being prepared,
        which can take a second on a busy machine. The playhead stays where it is."""
        self.hushed_at = None
        self._hushed = True

    def _extend(self) -> None:
        """Take up a timeline with more speech ready, without moving the playhead.

        Everything before the old horizon is the same in the new timeline, so
        the callback switches to it mid-stream and goes on seamlessly.
        """
        timeline = self.pending.refresh(self.timeline)
        if timeline is None:
            return
        self._take(timeline)
        limit, gate = self._stop_after(self.heading())
        trace("extend", position=self.position, limit=limit)
        self._commands.append(_Segment(self._renderer, CONTINUE, limit, gate,
                                       self._stop_words))

    def control(self, word: str) -> None:
        """``pause``, ``resume``, ``toggle``, ``next``, ``back``/``repeat`` or ``quit``."""
        trace("control", word=word, position=self.position)
        if word == "pause":
            self.paused = True
        elif word == "resume":
            self.paused = False
        elif word == "toggle":
            self.paused = not self.paused
        elif word == "next":
            index = self.timeline.section_at(self.heading()) + 1
            if index < len(self.timeline.sections):
                self.seek(self.timeline.sections[index].start)
        elif word in ("back", "repeat"):
            self.seek(self.timeline.sections[self.timeline.section_at(self.heading())].start)
            self.paused = False
        elif word == "quit":
            self.finish("quit")

    def heading(self) -> int:
        """Where play is going, in :attr:`timeline`: a seek not yet taken up by the
        callback, or the playhead. (A seek to another timeline takes it at once,
        but the playhead only when the callback reaches the seek: until then
        :attr:`position` is still in the old one.)"""
        # the latest seek still pending, even with a continuation queued after it
        # (speech that got ready meanwhile); the copy is taken whole, although
        # the callback may take commands at any moment
        for segment in reversed(list(self._commands)):
            if segment.start != CONTINUE:
                return segment.start
        return self.position

    def _handle_key(self, key: str) -> None:
        trace("key", key=key, position=self.position)
        lower = key.lower()
        if lower in ("y", "n") and self._asking_yes_no():
            self._early_keys.append(key)  # the answer to the question being asked
            return
        if lower in ("y", "n") and time.monotonic() - self.yes_no_closed_at < LATE_KEY_WINDOW:
            trace("late-key", key=key)    # meant for a question that timed out
            return
        action = {" ": "toggle", "n": "next", "b": "back", "q": "quit"}.get(lower)
        if action:
            self.control(action)
        elif lower == "s" and self.on_word is not None:
            from voiceguide.session.checkin import Answer
            self.on_word(self, Answer("stop", "key", time.monotonic()))
        elif self._asking():
            self._early_keys.append(key)  # an answer given while the question is asked

    def _asking_yes_no(self) -> bool:
        """True while a yes-or-no question is asked (before its gate opens)."""
        from voiceguide.session.checkin import is_yes_no

        if not self._asking():
            return False
        for event in self.timeline.events[self.timeline.event_index_at(self.position):]:
            if event.kind == EventKind.CHECKIN:
                return is_yes_no(event.gate)
        return False

    def _asking(self) -> bool:
        """True during a check-in's chime and question, before its gate opens."""
        event = self.timeline.events[self.timeline.event_index_at(self.position)]
        return event.kind == EventKind.CHECKIN or event.cue == "checkin"

    def quiet_now(self) -> bool:
        """True while nothing audible plays, allowing for the device's latency."""
        if self._stopping:
            return False
        if self._reached is not None:
            if self._reached.gate in (END, HORIZON) or self._reached_at is None:
                return False
            return time.monotonic() - self._reached_at > self._latency + 0.15
        if self.paused:
            return True
        event = self.timeline.events[self.timeline.event_index_at(self.position)]
        if event.kind != EventKind.SILENCE:
            return False
        heard_from = event.start + int((self._latency + 0.15) * SAMPLE_RATE)
        return heard_from < self.position < event.end - int(0.25 * SAMPLE_RATE)

    def update_quiet(self) -> None:
        """Tell ``on_quiet`` when the player falls quiet or is about to sound."""
        if self._reached is not None and self._reached_at is None:
            self._reached_at = time.monotonic()
        quiet = self.quiet_now()
        if quiet != self._quiet:
            self._quiet = quiet
            if self.on_quiet is not None:
                self.on_quiet(quiet)

    def poll_keys(self) -> list[str]:
        """Keys pressed since the last poll (first those pressed during a question)."""
        pressed, self._early_keys = self._early_keys, []
        while self.keys is not None and not self.keys.empty():
            pressed.append(self.keys.get_nowait())
        return pressed

    def finish(self, ending: str) -> None:
        """End play at once, recording how it ended."""
        self.ending = ending
        self._stopping = True

    @property
    def at_gate(self) -> bool:
        """True while waiting at a check-in."""
        reached = self._reached
        return reached is not None and reached.gate not in (END, HORIZON)

    # ---------------------------------------------------------------------- run
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

    def run(self) -> str:
        """Play to the end (or a stop, quit or Ctrl-C); return how it ended."""
        with quiet_c_stderr():
            return self._run()

    def _run(self) -> str:
        stream = self._open_stream()
        last_status = 0.0
        last_switch = None
        self._latency = stream.latency
        self._clock = StreamClock(stream)
        if self.reference is not None:
            self.reference.start(stream.samplerate)
        try:
            stream.start()
            self._heartbeat = time.monotonic()
            trace("stream-started", rate=stream.samplerate)
            while not self._stopping:
                if time.monotonic() - self._heartbeat > SILENT_DEVICE:
                    self.ending = "interrupted"
                    raise DeviceError("the audio device stopped responding; check it, or "
                                      "use 'voiceguide export' to make a file instead")
                for key in self.poll_keys():
                    self._handle_key(key)
                while self.inbox is not None and not self._stopping:
                    word = self.inbox.poll()
                    if word is None:
                        break
                    if self.on_word is not None:
                        self.on_word(self, word)
                self.update_quiet()
                if self.switched_at != last_switch:
                    last_switch = self.switched_at
                    trace("heard-switch", at=last_switch, timeline=self.timeline.routine)
                if self.pending is not None:
                    self._extend()
                self._clock.refresh()
                reached = self._reached
                if reached is not None and not self._commands:
                    if reached.gate == END:
                        time.sleep(stream.latency + 0.05)  # let the last buffer play
                        trace("end", position=self.position)
                        break
                    if reached.gate != HORIZON:  # at the horizon: wait for speech
                        self._gate(self.timeline.events[reached.gate])
                now = time.monotonic()
                if self.status is not None and now - last_status >= 0.25:
                    self.show_status()
                    last_status = now
                time.sleep(TICK)
            self._stopping = True
            _close(stream, drain=True)
        except KeyboardInterrupt:
            self._stopping = True  # from the next callback on, only quiet is played
            trace("interrupted", position=self.position, latency=stream.latency)
            _close(stream)
            self.ending = "interrupted"
            trace("aborted", position=self.position)
            raise
        finally:
            self._stopping = True
            _close(stream)
            trace("stopped", position=self.position, ending=self.ending,
                  first_sound=self.first_sound_at)
            if self._status_line is not None:
                self._status_line.clear()
        return self.ending

    def _gate(self, event: Event) -> None:
        trace("gate", position=self.position, question=event.text, gate=event.gate)
        self._asked = event
        try:
            result = self.on_gate(self, event)
        finally:
            self._asked = None
        if self._stopping:
            return
        if result is None:
            self.seek(event.end)
        else:
            timeline, position = result
            self.seek(position, timeline)

    def show_status(self) -> None:
        """Draw the status line (only when its text changed): the exercise, the
        time, and at a check-in the question in words with its keys."""
        if self._status_line is None:
            return
        timeline, position = self.timeline, self.heading()
        section = timeline.sections[timeline.section_at(position)]
        left = seconds(timeline.total_samples - position)
        state = "  [paused: space resumes]" if self.paused else ""
        if self._asked is not None:
            question = self._asked.text or ""
            line = f"check-in: {question}  [{self.gate_help}]"
        else:
            line = (f"{section.title} · {clock(seconds(position))} / "
                    f"{clock(timeline.total_seconds)} · {clock(left)} left{state}")
        self._status_line.show(line)

    def note(self, text: str) -> None:
        """Print a line above the status line (an answer confirmed, a question)."""
        if self._status_line is not None:
            self._status_line.note(text)
