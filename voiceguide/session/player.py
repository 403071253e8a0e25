"""Player: the control loop that plays timelines through an audio output.

The sound is :class:`~voiceguide.audio.output.Output`'s (a stream whose
callback never blocks); the player, on the caller's thread, decides what it
plays. It plays a timeline in segments, each ending at the next check-in gate,
at the *horizon* (the first sample whose speech is not synthesized yet: when
more is ready, ``pending`` gives a longer timeline and play goes on into it
without a seam) or at the end. It reads the keys (space, ``n``, ``b`` and
``q`` are its own), draws the status line, tells the microphone when play
falls quiet, and ends play.

What happens at a gate, and what a key or a word means around a question, is
its guide's business (:class:`Guide`; the check-in dialogue of
:mod:`voiceguide.session.dialogue` is one): the player knows nothing of
check-in rules. The guide asks the player in turn through the dialogue's
:class:`~voiceguide.session.dialogue.Stage` port, which :class:`Player` is.
"""

from __future__ import annotations

import time
from typing import Callable, Protocol

from voiceguide.audio.output import CONTINUE, Output, Segment, quiet_c_stderr, stop_word_spans
from voiceguide.audio.renderer import Renderer
from voiceguide.errors import DeviceError
from voiceguide.terminal import StatusLine
from voiceguide.timing.timeline import (SAMPLE_RATE, Event, EventKind, Gate, Timeline, clock,
                                        seconds)
from voiceguide.trace import trace

TICK = 0.02               # control loop period in seconds
SILENT_DEVICE = 3.0       # seconds without a callback: the device has gone away

#: The player's own keys and what each does.
CONTROL_KEYS = {" ": "toggle", "n": "next", "b": "back", "q": "quit"}

END = -1                 # the segment ends where the timeline ends
HORIZON = -2             # the segment ends where speech is not synthesized yet


class Guide(Protocol):
    """What the player asks of whoever answers its gates (see
    :mod:`voiceguide.session.dialogue`); ``stage`` is the player itself."""

    def key(self, stage: "Player", key: str, asking: Gate | None,
            control: str | None) -> str | None:
        """A key pressed while no gate is open; ``asking`` is the question whose
        chime or words play (or ``None``), ``control`` what the key does to play
        otherwise. Returns the control word to do (see :meth:`Player.control`)."""

    def listen(self, stage: "Player") -> None:
        """Take up what was heard since the last look (between gates)."""

    def at_gate(self, stage: "Player", event: Event) -> tuple[Timeline, int] | None:
        """The gate of the check-in ``event`` is open (its question was heard):
        wait for its answer; return ``None`` to go on after the check-in, or
        ``(timeline, position)`` to play next."""


class Player:
    """Plays timelines with keys, check-in gates and a status line.

    ``make_renderer(timeline)`` builds a preloaded renderer for a timeline.
    With a ``guide``, play stops at each check-in gate once the question has
    been heard and the guide says what follows; the guide also says what keys
    mean around a question and takes up words heard between gates. ``keys`` is
    a queue of key presses (or ``None``); ``status`` a stream for the one-line
    status (or ``None``). ``on_quiet(bool)`` hears when the player falls quiet
    or is about to speak, so a microphone can listen only while nothing plays.
    ``pending`` is for a timeline whose speech is still being synthesized:
    ``pending.horizon(t)`` is the first sample of ``t`` that cannot be played
    yet, and ``pending.refresh(t)`` a newer timeline when more speech is ready
    (``None`` otherwise, and whenever ``t``, the timeline playing, is not the
    routine's). ``device`` and ``reference`` are the
    :class:`~voiceguide.audio.output.Output`'s.
    """

    def __init__(self, timeline: Timeline, make_renderer: Callable[[Timeline], Renderer], *,
                 device: str | None = None, guide: Guide | None = None, keys=None,
                 status=None, on_quiet=None, pending=None, reference=None):
        self.make_renderer = make_renderer
        self.guide = guide
        self.pending = pending
        self.on_quiet = on_quiet
        self.output = Output(device, reference)
        self.ending = "completed"
        self._key_queue = keys
        self._status_line = StatusLine(status) if status is not None else None
        self._help = ""                     # the keys of the open question
        self._asked: Event | None = None    # the check-in waiting for its answer
        self._early_keys: list[str] = []
        self._quiet = False
        self._reached_at: float | None = None
        self._take(timeline)
        self.seek(0)

    @property
    def position(self) -> int:
        """The playhead (of the output), in :attr:`timeline` once a seek is taken up."""
        return self.output.position

    @property
    def paused(self) -> bool:
        return self.output.paused

    @paused.setter
    def paused(self, value: bool) -> None:
        self.output.paused = value

    # ------------------------------------------------------------------ controls
    def _stop_after(self, start: int) -> tuple[int, int]:
        """Where play from ``start`` must stop: the next gate, the horizon or the end."""
        limit, gate = self.timeline.total_samples, END
        if self.guide is not None:
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
        self.output.play(Segment(self._renderer, start, limit, gate, self._stop_words))

    def hush(self) -> None:
        """Silence at once, until the next :meth:`seek` (see
        :meth:`~voiceguide.audio.output.Output.hush`)."""
        self.output.hush()

    def resume(self) -> None:
        """Go on if paused."""
        self.paused = False

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
        self.output.play(Segment(self._renderer, CONTINUE, limit, gate, self._stop_words))

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
        return self.output.heading()

    def where(self) -> tuple[Timeline, int]:
        """The timeline playing, and where in it play is going (:meth:`heading`)."""
        return self.timeline, self.heading()

    def finish(self, ending: str) -> None:
        """End play at once, recording how it ended."""
        self.ending = ending
        self.output.stop()

    # ---------------------------------------------------------------------- keys
    def _handle_key(self, key: str) -> None:
        trace("key", key=key, position=self.position)
        action = CONTROL_KEYS.get(key.lower())
        if self.guide is not None:
            action = self.guide.key(self, key, self._question(), action)
        if action:
            self.control(action)

    def _question(self) -> Gate | None:
        """The gate of the check-in whose chime or question plays (before its gate
        opens), or ``None``."""
        if not self._asking():
            return None
        for event in self.timeline.events[self.timeline.event_index_at(self.position):]:
            if event.kind == EventKind.CHECKIN:
                return event.gate
        return None

    def _asking(self) -> bool:
        """True during a check-in's chime and question, before its gate opens."""
        event = self.timeline.events[self.timeline.event_index_at(self.position)]
        return event.kind == EventKind.CHECKIN or event.cue == "checkin"

    def keep(self, key: str) -> None:
        """Hold ``key`` (an answer given while the question is asked) for the gate:
        :meth:`poll_keys` returns it first, unless play moves (a seek) before."""
        self._early_keys.append(key)

    def poll_keys(self) -> list[str]:
        """Keys pressed since the last poll (first those pressed during a question)."""
        pressed, self._early_keys = self._early_keys, []
        while self._key_queue is not None and not self._key_queue.empty():
            pressed.append(self._key_queue.get_nowait())
        return pressed

    # --------------------------------------------------------------------- quiet
    def quiet_now(self) -> bool:
        """True while nothing audible plays, allowing for the device's latency."""
        output = self.output
        if output.stopped:
            return False
        reached = output.reached
        if reached is not None:
            if reached.mark in (END, HORIZON) or self._reached_at is None:
                return False
            return time.monotonic() - self._reached_at > output.latency + 0.15
        if output.paused:
            return True
        event = self.timeline.events[self.timeline.event_index_at(self.position)]
        if event.kind != EventKind.SILENCE:
            return False
        heard_from = event.start + int((output.latency + 0.15) * SAMPLE_RATE)
        return heard_from < self.position < event.end - int(0.25 * SAMPLE_RATE)

    def update_quiet(self) -> None:
        """Tell ``on_quiet`` when the player falls quiet or is about to sound."""
        if self.output.reached is not None and self._reached_at is None:
            self._reached_at = time.monotonic()
        quiet = self.quiet_now()
        if quiet != self._quiet:
            self._quiet = quiet
            if self.on_quiet is not None:
                self.on_quiet(quiet)

    def tick(self) -> None:
        """A moment while a guide waits at a gate: :meth:`update_quiet`, and the
        status line drawn."""
        self.update_quiet()
        self.show_status()

    # ---------------------------------------------------------------------- run
    def run(self) -> str:
        """Play to the end (or a stop, quit or Ctrl-C); return how it ended."""
        with quiet_c_stderr():
            return self._run()

    def _run(self) -> str:
        output = self.output
        output.open()
        try:
            output.start()
            self._loop()
            output.stop()
            output.close(drain=True)
        except KeyboardInterrupt:
            output.stop()  # from the next callback on, only quiet is played
            trace("interrupted", position=self.position, latency=output.latency)
            output.close()
            self.ending = "interrupted"
            trace("aborted", position=self.position)
            raise
        finally:
            output.stop()
            output.close()
            trace("stopped", position=self.position, ending=self.ending,
                  first_sound=output.first_sound_at)
            if self._status_line is not None:
                self._status_line.clear()
        return self.ending

    def _loop(self) -> None:
        """The control loop, every :data:`TICK` until play ends."""
        last_status = 0.0
        last_switch = None
        output = self.output
        while not output.stopped:
            if output.silent_for() > SILENT_DEVICE:
                self.ending = "interrupted"
                raise DeviceError("the audio device stopped responding; check it, or "
                                  "use 'voiceguide export' to make a file instead")
            for key in self.poll_keys():
                self._handle_key(key)
            if self.guide is not None and not output.stopped:
                self.guide.listen(self)
            self.update_quiet()
            if output.switched_at != last_switch:
                last_switch = output.switched_at
                trace("heard-switch", at=last_switch, timeline=self.timeline.routine)
            if self.pending is not None:
                self._extend()
            output.refresh_clock()
            if self._at_limit():
                break
            now = time.monotonic()
            if self._status_line is not None and now - last_status >= 0.25:
                self.show_status()
                last_status = now
            time.sleep(TICK)

    def _at_limit(self) -> bool:
        """Past the segment's limit: at a gate, ask the guide what follows; True at
        the end (once the last buffer has played)."""
        reached = self.output.reached
        if reached is None or self.output.switching:
            return False
        if reached.mark == END:
            time.sleep(self.output.latency + 0.05)  # let the last buffer play
            trace("end", position=self.position)
            return True
        if reached.mark != HORIZON:  # at the horizon: wait for speech
            self._gate(self.timeline.events[reached.mark])
        return False

    def _gate(self, event: Event) -> None:
        trace("gate", position=self.position, question=event.text, gate=event.gate)
        self._asked = event
        try:
            result = self.guide.at_gate(self, event)
        finally:
            self._asked = None
        if self.output.stopped:
            return
        if result is None:
            self.seek(event.end)
        else:
            timeline, position = result
            self.seek(position, timeline)

    # -------------------------------------------------------------------- screen
    def ask(self, keys: str) -> None:
        """Show ``keys``, those that answer the open question, on the status line."""
        self._help = keys

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
            line = f"check-in: {question}  [{self._help}]"
        else:
            line = (f"{section.title} · {clock(seconds(position))} / "
                    f"{clock(timeline.total_seconds)} · {clock(left)} left{state}")
        self._status_line.show(line)

    def note(self, text: str) -> None:
        """Print a line above the status line (an answer confirmed, a question)."""
        if self._status_line is not None:
            self._status_line.note(text)
