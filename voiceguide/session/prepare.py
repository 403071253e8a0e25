"""A routine made ready to hear: loaded, its settings resolved, compiled with real
speech lengths; and its export.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from voiceguide.routine import loader
from voiceguide.timing.compiler import (LengthError, compile_message, compile_routine, dose_notes,
                                 estimated_speech, fit_length, length_report)
from voiceguide.audio.cues import load_cues
from voiceguide.errors import InputError
from voiceguide.audio.loudness import CUE_GAIN
from voiceguide.routine.model import Routine
from voiceguide.routine.pacing import Pacing, parse_length
from voiceguide.audio.renderer import Renderer
from voiceguide.settings import Resolved, resolve
from voiceguide.timing.timeline import Timeline

if TYPE_CHECKING:
    from voiceguide.session.synthesis import Synthesis


@dataclass
class Prepared:
    """A routine with its pacing, its speech and its timeline.

    The timeline is in real clip lengths, except while ``pending`` synthesizes
    speech in the background (see :class:`Synthesis`).
    """

    library: loader.Library
    routine: Routine
    resolved: Resolved
    speech: object
    timeline: Timeline
    pacing: Pacing
    volume: float = 1.0
    cue_volume: float = 1.0
    notes: list[str] = field(default_factory=list)
    pending: "Synthesis | None" = None
    notice: bool = True   # the spoken not-medical-advice notice starts the routine
    lock: threading.Lock = field(default_factory=threading.Lock)

    def synthesize(self, texts) -> None:
        """Make sure every text is synthesized (one synthesis at a time)."""
        texts = list(texts)
        with self.lock:
            self.speech.prepare(texts, levelled=True)
        if self.pending is not None:
            self.pending.ready.update(texts)

    def message(self, name: str, title: str, lines, question=None, rest=0.0,
                after=(), then: str | None = None) -> Timeline:
        """A spoken message in the same voice, as a timeline (see ``compile_message``)."""
        texts = list(lines) + list(after) + ([question[0]] if question else [])
        self.synthesize(texts)
        return compile_message(name, title, lines, self.speech.seconds, self.pacing.pace,
                               question, rest, after, then)

    def renderer(self, timeline: Timeline, preload: bool = False) -> Renderer:
        """The one renderer, for play (``preload``) and export alike.

        Speech is levelled to one loudness (see :mod:`voiceguide.audio.loudness`). While
        speech is still synthesized in the background, a preload takes only the clips
        that exist; the player never plays past them.
        """
        ready = self.pending.is_ready if preload and self.pending is not None else None
        return Renderer(timeline, self.speech.levelled, load_cues(), self.volume,
                        self.cue_volume, preload=preload, ready=ready, speech_gain=1.0,
                        cue_gain=CUE_GAIN)

    def preloaded_renderer(self, timeline: Timeline) -> Renderer:
        """A renderer whose clips are all in memory, for the audio callback."""
        return self.renderer(timeline, preload=True)


def compile_real(routine, pacing, speech, phrases, notice=True, progress=None) -> Timeline:
    """Compile with real clip lengths.

    The texts a timeline needs are found from an estimate first and synthesized
    together (in parallel); a text that only fits with its real length is
    synthesized when the compiler asks for it.
    """
    draft = compile_routine(routine, pacing, estimated_speech(pacing.rate), phrases,
                            notice=notice)
    speech.prepare(draft.texts(), progress, levelled=True)
    return compile_routine(routine, pacing, speech.seconds, phrases, notice=notice)


def prepare(name_or_path: str, options: dict, *,
            progress: Callable[[int, int], None] | None = None,
            library: loader.Library | None = None, background: bool = False,
            notice: bool = True) -> Prepared:
    """Load, resolve and compile a routine with real speech lengths.

    ``options`` are the raw command-line values (``None`` when not given),
    including ``voice``, ``length`` (minutes to fit the routine to) and
    ``beyond_doses``. ``notice`` starts the routine with the spoken
    not-medical-advice notice (export, and play without check-ins). With
    ``background``, speech not in the cache yet is synthesized in the background,
    ahead of the playhead, and ``prepared.pending`` tracks it (for play).
    """
    from voiceguide.speech import Speech, resolve_voice

    library = library or loader.load_library()
    routine = library.routine(name_or_path)
    resolved = resolve(options, routine)
    voice = resolved.values["voice"]
    if voice is not None:
        voice = resolve_voice(voice)
    speech = Speech(voice=voice, rate=resolved.pacing.rate)
    pacing = replace(resolved.pacing, beyond_doses=bool(options.get("beyond_doses")))
    notes = dose_notes(routine, pacing)
    minutes = options.get("length")
    if minutes is not None:
        try:
            minutes = parse_length(minutes)
        except ValueError as err:
            raise InputError(f"--length: {err}") from None
        try:
            fitted = fit_length(routine, pacing, _known_lengths(speech, pacing.rate),
                                library.phrases, minutes, notice=notice)
        except LengthError as err:
            raise InputError(f"--length {minutes:g}: the shortest safe version of "
                             f"{routine.name} (its warm-up and last exercise) is "
                             f"{err.shortest_seconds / 60:.1f} minutes") from None
        routine, pacing = fitted.routine, fitted.pacing
        notes += fitted.notes
    prepared = Prepared(library, routine, resolved, speech, None, pacing,
                        resolved.values["volume"], resolved.values["cue_volume"], notes,
                        notice=notice)
    if background:
        from voiceguide.session.synthesis import Synthesis

        prepared.pending = Synthesis(prepared)
        prepared.timeline = prepared.pending.start()
    else:
        prepared.timeline = compile_real(routine, pacing, speech, library.phrases, notice,
                                         progress=progress)
    if minutes is not None:
        notes += length_report(prepared.timeline.total_seconds, minutes)
    return prepared


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
    from voiceguide.audio import exporter

    exporter.check_target(output, force)
    timeline = prepared.timeline
    blocks = prepared.renderer(timeline).blocks(block=exporter.EXPORT_BLOCK)
    return exporter.export(output, blocks, timeline, force, progress,
                           voice=prepared.speech.voice)
