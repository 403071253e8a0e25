"""A routine made ready to hear, from settings resolved once; and its export.

:func:`prepare` takes the routine and its :class:`~voiceguide.settings.Settings` (the
command line resolves them and hands them down), fits ``--length`` and compiles with
real speech lengths. What every compile of a routine shares is here too:
:func:`routine_compiler` (the routine's compile for any speech lengths),
:func:`compile_twice` (an estimate first, to learn the texts; then their lengths) and
:func:`known_lengths` (real lengths of cached clips, estimates for the rest). While
speech is synthesized in the background, :class:`~voiceguide.session.synthesis.Synthesis`
owns the live timeline and :attr:`Prepared.timeline` asks it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Mapping

from voiceguide.audio.cues import load_cues
from voiceguide.audio.loudness import CUE_GAIN
from voiceguide.audio.renderer import Renderer
from voiceguide import catalog
from voiceguide.errors import InputError
from voiceguide.routine.model import Routine
from voiceguide.routine.pacing import Pacing, Raw, breath_beyond, parse_length
from voiceguide.session.synthesis import Compile, Synthesis
from voiceguide.settings import Settings, resolve
from voiceguide.timing.compiler import (SpeechLength, compile_message, compile_routine,
                                        estimated_speech)
from voiceguide.timing.dosing import dose_notes
from voiceguide.timing.fitting import LengthError, fit_length, length_report
from voiceguide.timing.timeline import Audience, Timeline

if TYPE_CHECKING:
    from voiceguide.speech import Speech


@dataclass
class Prepared:
    """A routine with its pacing, its speech and its timeline.

    :attr:`timeline` is in real clip lengths, except while ``pending`` synthesizes
    speech in the background (see :class:`Synthesis`, which then owns it).
    """

    library: catalog.Library
    routine: Routine
    pacing: Pacing
    speech: Speech
    volume: float = 1.0
    cue_volume: float = 1.0
    notes: list[str] = field(default_factory=list)
    audience: Audience = Audience.PLAY   # export: a recording, which asks nothing
    pending: Synthesis | None = None
    final: Timeline | None = None   # the timeline, when nothing is pending

    @property
    def timeline(self) -> Timeline:
        """The routine's latest timeline (``pending``'s while it synthesizes)."""
        return self.pending.timeline if self.pending is not None else self.final

    def synthesize(self, texts: Iterable[str]) -> None:
        """Make sure every text is synthesized (one synthesis at a time)."""
        if self.pending is not None:
            self.pending.make(texts)
        else:
            self.speech.prepare(list(texts), levelled=True)

    def message(self, name: str, title: str, lines, question=None, rest=0.0,
                after=(), then: str | None = None, step: float = 0.0) -> Timeline:
        """A spoken message in the same voice, as a timeline (see ``compile_message``)."""
        texts = (list(lines) + list(after) + ([question[0]] if question else [])
                 + ([then] if then else []))
        self.synthesize(texts)
        return compile_message(name, title, lines, self.speech.seconds, self.pacing.pace,
                               question, rest, after, then, step)

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


def routine_compiler(routine: Routine, pacing: Pacing, library: catalog.Library,
                     audience: Audience = Audience.PLAY) -> Compile:
    """The routine's compile for ``audience`` and any speech lengths:
    ``compile(lengths) -> Timeline``, with the library's phrases and positions."""

    def compile(lengths: SpeechLength) -> Timeline:
        return compile_routine(routine, pacing, lengths, library.phrases, library.positions,
                               audience)

    return compile


def compile_twice(compile: Compile, estimate: SpeechLength,
                  lengths: Callable[[list[str]], SpeechLength]) -> Timeline:
    """Compile with ``estimate`` to learn the texts the routine says, then with the
    speech lengths ``lengths(texts)`` gives for them (real ones, as far as known)."""
    return compile(lengths(compile(estimate).texts()))


def known_lengths(speech: Speech, estimate: SpeechLength) -> SpeechLength:
    """Real lengths of cached clips, ``estimate`` for the rest (no synthesis)."""
    memo: dict[str, float] = {}

    def length(text: str) -> float:
        if text not in memo:
            memo[text] = estimate(text) if speech.missing([text]) else speech.seconds(text)
        return memo[text]

    return length


def compile_real(compile: Compile, speech: Speech, estimate: SpeechLength,
                 progress: Callable[[int, int], None] | None = None) -> Timeline:
    """Compile with real clip lengths.

    The texts a timeline needs are found from an estimate first and synthesized
    together (in parallel); a text that only fits with its real length is
    synthesized when the compiler asks for it.
    """
    def synthesized(texts: list[str]) -> SpeechLength:
        speech.prepare(texts, progress, levelled=True)
        return speech.seconds

    return compile_twice(compile, estimate, synthesized)


def open_speech(chosen: Settings) -> Speech:
    """The speech of the chosen voice and rate (:class:`DeviceError` without an engine)."""
    from voiceguide.speech import Speech, resolve_voice

    voice = resolve_voice(chosen.voice) if chosen.voice is not None else None
    return Speech(voice=voice, rate=chosen.rate)


def prepare(routine: Routine, chosen: Settings, library: catalog.Library, *,
            length: float | None = None, beyond_doses: bool = False,
            progress: Callable[[int, int], None] | None = None, background: bool = False,
            audience: Audience = Audience.PLAY) -> Prepared:
    """``routine`` with the ``chosen`` settings, compiled with real speech lengths.

    ``length`` is the minutes to fit the routine to (``--length``), within doses
    unless ``beyond_doses``. ``audience`` is who it is compiled for: ``play``
    (check-in questions) or ``export`` (a recording, and play without check-ins:
    it says it cannot hear and asks nothing; see :mod:`voiceguide.timing.framing`). With
    ``background``, speech not in the cache yet is synthesized in the background,
    ahead of the playhead, and ``prepared.pending`` tracks it (for play). A breath
    pattern beyond the safe limits is an :class:`InputError` unless ``beyond_doses``.
    """
    notes = breath_notes(chosen, beyond_doses)
    speech = open_speech(chosen)
    pacing = replace(chosen.pacing, beyond_doses=beyond_doses)
    notes += dose_notes(routine, pacing)
    estimate = estimated_speech(pacing.rate)
    if length is not None:
        length = _checked_length(length)
        fitted = _fit(routine, pacing, known_lengths(speech, estimate), library, length, audience)
        routine, pacing = fitted.routine, fitted.pacing
        notes += fitted.notes
    prepared = Prepared(library, routine, pacing, speech, chosen.volume, chosen.cue_volume,
                        notes, audience=audience)
    compile = routine_compiler(routine, pacing, library, audience)
    if background:
        prepared.pending = Synthesis(speech, compile, estimate)
        prepared.pending.start(compile_twice(compile, estimate, prepared.pending.lengths))
    else:
        prepared.final = compile_real(compile, speech, estimate, progress)
    if length is not None:
        notes += length_report(prepared.timeline.total_seconds, length)
    return prepared


def breath_notes(chosen: Settings, beyond_doses: bool) -> list[str]:
    """Nothing for a breath pattern within the safe limits; beyond them (only the
    command line's can be: the files' are refused where they are read) an
    :class:`InputError` naming the limit, or with ``beyond_doses`` a one-line warning."""
    beyond = breath_beyond(chosen.breath)
    if beyond is None:
        return []
    if not beyond_doses:
        raise InputError(f"--breath {chosen.breath}: {beyond} (--beyond-doses to go "
                         "beyond it)")
    return [f"warning: --breath {chosen.breath} is beyond the safe limits ({beyond}): "
            "on your own judgement"]


def resolved(name_or_path: str, line: Mapping[str, Raw | None] | None = None,
             library: catalog.Library | None = None
             ) -> tuple[Routine, Settings, catalog.Library]:
    """The routine ``name_or_path``, its settings resolved once from ``line`` (the
    command-line values of settings, raw; ``None``: not given) over its routine file,
    the settings file and the defaults, and the library it came from."""
    library = library or catalog.load_library()
    routine = library.routine(name_or_path)
    return routine, resolve(line, routine), library


def prepare_named(name_or_path: str, line: Mapping[str, Raw | None] | None = None, *,
                  library: catalog.Library | None = None, **how) -> Prepared:
    """The routine ``name_or_path`` prepared as the command line prepares it: its
    settings :func:`resolved` from ``line``, then :func:`prepare` with ``how``."""
    return prepare(*resolved(name_or_path, line, library), **how)


def _checked_length(minutes: float) -> float:
    try:
        return parse_length(minutes)
    except ValueError as err:
        raise InputError(f"--length: {err}") from None


def _fit(routine: Routine, pacing: Pacing, lengths: SpeechLength, library: catalog.Library,
         minutes: float, audience: Audience):
    try:
        return fit_length(routine, pacing, lengths, library.phrases, minutes, library.positions,
                          audience=audience)
    except LengthError as err:
        if err.longest:
            raise InputError(f"--length {minutes:g}: the longest safe version of "
                             f"{routine.name} (each exercise at most twice, within the "
                             f"sources' doses) is {err.seconds / 60:.1f} minutes") from None
        raise InputError(f"--length {minutes:g}: the shortest safe version of "
                         f"{routine.name} (its warm-up and last exercise) is "
                         f"{err.seconds / 60:.1f} minutes") from None


def export(prepared: Prepared, output: Path, force: bool = False,
           progress: Callable[[int], None] | None = None) -> tuple[Path, Path]:
    """Write the routine to ``output`` (format by extension) and its chapters."""
    from voiceguide.audio import exporter

    exporter.check_target(output, force)
    timeline = prepared.timeline
    blocks = prepared.renderer(timeline).blocks(block=exporter.EXPORT_BLOCK)
    return exporter.export(output, blocks, timeline, force, progress,
                           voice=prepared.speech.voice)
