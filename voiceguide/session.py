"""Sessions: a routine made ready to hear (real speech lengths), played or exported.

This is where the parts meet: loader and settings give the routine and its pacing,
speech gives real clip lengths to the compiler, the renderer turns the timeline
into audio for the player or the exporter.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from voiceguide import loader
from voiceguide.checkin import KEY_ANSWERS, STOP, Answer, Inbox
from voiceguide.compiler import (compile_message, compile_routine, estimated_speech,
                                 fit_length, length_report)
from voiceguide.errors import InputError
from voiceguide.cues import load_cues
from voiceguide.model import Routine
from voiceguide.pacing import Pacing
from voiceguide.renderer import Renderer
from voiceguide.settings import Resolved, resolve
from voiceguide.timeline import Event, Timeline


@dataclass
class Prepared:
    """A routine with its pacing, its speech and its timeline in real lengths."""

    library: loader.Library
    routine: Routine
    resolved: Resolved
    speech: object
    timeline: Timeline
    pacing: Pacing
    voice: str | None = None
    volume: float = 1.0
    cue_volume: float = 1.0
    notes: list[str] = field(default_factory=list)

    def compile(self, gentler: frozenset[int] = frozenset()) -> Timeline:
        """The routine compiled with real clip lengths (synthesizing what is missing)."""
        return compile_real(self.routine, self.pacing, self.speech, self.library.phrases,
                            gentler)

    def message(self, name: str, title: str, lines) -> Timeline:
        """A spoken message in the same voice, as a timeline."""
        self.speech.prepare(lines)
        return compile_message(name, title, lines, self.speech.seconds, self.pacing.pace)

    def renderer(self, timeline: Timeline, preload: bool = False) -> Renderer:
        """The one renderer, for play (``preload``) and export alike."""
        return Renderer(timeline, self.speech.clip, load_cues(), self.volume, self.cue_volume,
                        preload=preload)

    def preloaded_renderer(self, timeline: Timeline) -> Renderer:
        """A renderer whose clips are all in memory, for the audio callback."""
        return self.renderer(timeline, preload=True)


def compile_real(routine, pacing, speech, phrases, gentler=frozenset(),
                 progress=None) -> Timeline:
    """Compile with real clip lengths.

    The texts a timeline needs are found from an estimate first and synthesized
    together (in parallel); a text that only fits with its real length is
    synthesized when the compiler asks for it.
    """
    draft = compile_routine(routine, pacing, estimated_speech(pacing.rate), phrases, gentler)
    speech.prepare(draft.texts(), progress)
    return compile_routine(routine, pacing, speech.seconds, phrases, gentler)


def prepare(name_or_path: str, options: dict, *,
            progress: Callable[[int, int], None] | None = None,
            library: loader.Library | None = None) -> Prepared:
    """Load, resolve and compile a routine with real speech lengths.

    ``options`` are the raw command-line values (``None`` when not given),
    including ``voice`` and ``length`` (minutes to fit the routine to).
    """
    from voiceguide.speech import Speech, resolve_voice

    library = library or loader.load_library()
    routine = library.routine(name_or_path)
    resolved = resolve(options, routine)
    voice = resolved.values["voice"]
    if voice is not None:
        voice = resolve_voice(voice)
    speech = Speech(voice=voice, rate=resolved.pacing.rate)
    pacing, notes = resolved.pacing, []
    minutes = options.get("length")
    if minutes is not None:
        minutes = parse_length(minutes)
        pacing, notes = fit_length(routine, pacing, _known_lengths(speech, pacing.rate),
                                   library.phrases, minutes)
    timeline = compile_real(routine, pacing, speech, library.phrases, progress=progress)
    if minutes is not None:
        notes += length_report(timeline.total_seconds, minutes)
    return Prepared(library, routine, resolved, speech, timeline, pacing, voice,
                    resolved.values["volume"], resolved.values["cue_volume"], notes)


def parse_length(raw) -> float:
    """``--length`` in minutes, 1 to 120."""
    try:
        minutes = float(raw)
    except (TypeError, ValueError):
        raise InputError(f"--length: expected a number of minutes, not {raw!r}") from None
    if not 1 <= minutes <= 120:
        raise InputError(f"--length: must be between 1 and 120 minutes, not {raw}")
    return minutes


def _known_lengths(speech, rate: int):
    """Real lengths of cached clips, estimates for the rest (no synthesis)."""
    estimate = estimated_speech(rate)
    memo: dict[str, float] = {}

    def length(text: str) -> float:
        if text not in memo:
            memo[text] = estimate(text) if speech.missing([text]) else speech.seconds(text)
        return memo[text]

    return length


def export(prepared: Prepared, output: Path, force: bool = False,
           progress: Callable[[int], None] | None = None) -> tuple[Path, Path]:
    """Write the routine to ``output`` (format by extension) and its chapters."""
    from voiceguide import exporter

    exporter.check_target(output, force)
    timeline = prepared.timeline
    blocks = prepared.renderer(timeline).blocks(block=exporter.EXPORT_BLOCK)
    exporter.write_audio(output, blocks, timeline.total_samples, progress)
    return output, exporter.write_chapters(output, timeline)


@dataclass
class PlayOptions:
    """How to play: device, check-ins, the wait for an answer, keys and status."""

    device: str | None = None
    checkins: bool = True
    checkin_timeout: float = 8.0
    keys: object = None           # a queue of key presses, or None
    status: object = None         # a stream for the status line, or None
    inbox: Inbox = field(default_factory=Inbox)


class Gate:
    """Waits at a check-in for the first answer from any source, or the timeout.

    Keys answer too (``g``/Enter good, ``w`` worse, ``s`` stop; ``q`` quits).
    ``stop`` ends the routine with the spoken safety message.
    """

    def __init__(self, prepared: Prepared, options: PlayOptions):
        self.prepared = prepared
        self.options = options
        self.answers: list[tuple[Event, Answer]] = []
        self._stop_message: Timeline | None = None

    def stop_message(self) -> Timeline:
        if self._stop_message is None:
            self._stop_message = self.prepared.message(
                "stop", "Stopping", self.prepared.library.phrases.stop_message)
        return self._stop_message

    def wait(self, player, question: Event) -> Answer | None:
        """The answer to ``question``, or ``None`` if the user quit meanwhile."""
        inbox = self.options.inbox
        deadline = time.monotonic() + self.options.checkin_timeout
        while time.monotonic() < deadline:
            for key in player.poll_keys():
                if key in KEY_ANSWERS:
                    inbox.put(KEY_ANSWERS[key], "key")
                elif key in "qQ":
                    player.finish("quit")
                    return None
            answer = inbox.wait(min(0.05, max(0.0, deadline - time.monotonic())))
            if answer.source != "timeout":
                return answer
        return Answer("none", "timeout", time.monotonic())

    def __call__(self, player, event: Event):
        self.options.inbox.clear()
        answer = self.wait(player, event)
        if answer is None:
            return None
        self.answers.append((event, answer))
        if answer.word == STOP:
            player.ending = "stopped"
            return self.stop_message(), 0
        return None


def play(prepared: Prepared, options: PlayOptions) -> str:
    """Play the routine; return how it ended (completed, stopped, quit)."""
    from voiceguide.player import Player

    gate = Gate(prepared, options)
    if options.checkins:
        gate.stop_message()  # ready before it is needed
    player = Player(prepared.timeline, prepared.preloaded_renderer, device=options.device,
                    checkins=options.checkins, on_gate=gate, keys=options.keys,
                    status=options.status)
    return player.run()
