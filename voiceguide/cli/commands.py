"""What the commands do, as library functions that return data.

The CLI parses options, resolves the settings once and calls these with typed values,
then prints; tests can call them directly.
"""

from __future__ import annotations

import json
from typing import Mapping

from voiceguide import catalog
from voiceguide.errors import DeviceError, VoiceguideError, safe_line
from voiceguide.routine.model import Routine
from voiceguide.routine.pacing import Raw
from voiceguide.session import prepare as preparing
from voiceguide.settings import Settings, resolve
from voiceguide.timing.compiler import SpeechLength, estimated_speech
from voiceguide.timing.fitting import routine_minutes
from voiceguide.session.stop_path import StopPath, stop_path
from voiceguide.timing.timeline import (SAMPLE_RATE, Audience, EventKind, Timeline, clock, samples,
                                        seconds)


def listing(library: catalog.Library | None = None) -> dict:
    """Routines (name, title, minutes as ``show`` gives them, and whether that is an
    estimate) and techniques (id, title).

    Minutes come from the cached clips' real lengths; a routine with speech not
    synthesized yet (or no speech engine) is estimated from word counts.
    """
    library = library or catalog.load_library()
    warnings = list(library.warnings)
    routines = []
    for name, path in sorted(library.routines.items()):
        try:
            routine = catalog.load_routine_file(path, library)
            chosen = resolve({}, routine)
        except VoiceguideError as err:
            warnings.append(str(err))
            continue
        timeline, estimated = _cached_timeline(routine, chosen, library)
        routines.append({"name": name, "title": routine.title,
                         "minutes": routine_minutes(timeline), "estimated": estimated,
                         "builtin": name in library.builtin_routines})
    techniques = [{"id": t.id, "title": t.title}
                  for t in sorted(library.techniques.values(), key=lambda t: t.id)]
    return {"routines": routines, "techniques": techniques, "warnings": warnings}


def _cached_timeline(routine: Routine, chosen: Settings, library: catalog.Library
                     ) -> tuple[Timeline, bool]:
    """The routine in the cached clips' real lengths (estimates for the rest), and
    whether any text was estimated; no synthesis, no engine needed."""
    pacing = chosen.pacing
    estimate = estimated_speech(pacing.rate)
    compile = preparing.routine_compiler(routine, pacing, library)
    try:
        speech = preparing.open_speech(chosen)
    except DeviceError:
        return compile(estimate), True
    estimated = False

    def cached(texts: list[str]) -> SpeechLength:
        nonlocal estimated
        estimated = bool(speech.missing(texts))
        return preparing.known_lengths(speech, estimate)

    try:
        timeline = preparing.compile_twice(compile, estimate, cached)
    finally:
        speech.close()
    return timeline, estimated


def timeline_for(name_or_path: str, line: Mapping[str, Raw | None], *,
                 length: float | None = None, beyond_doses: bool = False,
                 library: catalog.Library | None = None,
                 audience: Audience = Audience.PLAY) -> tuple[Timeline, list[str]]:
    """A routine's timeline for ``audience`` in real speech lengths, and notes for
    the user.

    ``line`` holds the command-line values of settings (``None``: not given),
    resolved here once; ``length`` and ``beyond_doses`` are ``--length`` and
    ``--beyond-doses``. What is not in the speech cache yet is synthesized. Without
    a speech engine the lengths are estimated from word counts, and a note says so.
    """
    routine, chosen, library = preparing.resolved(name_or_path, line, library)
    try:
        prepared = preparing.prepare(routine, chosen, library, length=length,
                                     beyond_doses=beyond_doses, audience=audience)
    except DeviceError as err:
        pacing = chosen.pacing
        compile = preparing.routine_compiler(routine, pacing, library, audience)
        return compile(estimated_speech(pacing.rate)), [f"{err}; speech lengths are estimated"]
    prepared.speech.close()
    return prepared.timeline, prepared.notes


def stop_paths(timeline: Timeline, library: catalog.Library, moments) -> list[StopPath]:
    """The stop path at each of ``moments`` (seconds into ``timeline``), as play speaks it."""
    return [stop_path(timeline, min(samples(m), timeline.total_samples), library.phrases,
                      library.positions) for m in moments]


def stop_paths_text(timeline: Timeline, library: catalog.Library, moments,
                    as_json: bool = False) -> str:
    """``show --stop-at``: the stop path at each moment, as text or JSON (one object
    for one moment, a list for several)."""
    paths = stop_paths(timeline, library, moments)
    if as_json:
        found = [p.to_json() for p in paths]
        return json.dumps(found[0] if len(found) == 1 else found, indent=1)
    return "\n\n".join(format_stop_path(p) for p in paths)


def history_text(records: list, as_json: bool = False) -> str:
    """``history``: the sessions as a table with the day-by-day chart, or as JSON."""
    from voiceguide import history as log

    if as_json:
        return json.dumps([r.to_json() for r in records], indent=2)
    if not records:
        return "No sessions yet. Start one with: voiceguide play morning"
    rows = [log.TABLE_HEADER] + [safe_line(log.table_row(r)) for r in records]
    return "\n".join(rows + ["", log.chart(log.daily_trend(records))])


def format_stop_path(path: StopPath) -> str:
    """A stop path as text: the moment, the position (and move), then every line."""
    move = f", moving to {path.moving[1]}" if path.moving else ""
    head = f"Stopped at {clock(path.at / SAMPLE_RATE)}: {path.position}{move}"
    return "\n".join([safe_line(head)] + [safe_line(f"  {line}") for line in path.said])


def voices(lang: str | None = None) -> list:
    """Installed voices, only those for ``lang`` (a prefix such as ``en``) when given."""
    from voiceguide.speech import list_voices

    found = list_voices()
    if lang:
        wanted = lang.lower()
        found = [v for v in found if any(l.lower().startswith(wanted) for l in v.languages)
                 or v.id.lower().startswith(wanted)]
    return found


def preview_voice(text: str, chosen: Settings, device: str | None) -> str:
    """Say ``text`` with the chosen voice and rate on the output device; return the
    voice id used."""
    from voiceguide.audio import output

    with preparing.open_speech(chosen) as speech:
        clip = speech.levelled(text)
    output.play_clip(clip, device)
    return speech.voice or "(default)"


def format_timeline(timeline: Timeline) -> str:
    """A readable timeline: section titles, what is said and heard, holds, total."""
    lines = [f"{safe_line(timeline.title)} ({safe_line(timeline.routine)}) — "
             f"{clock(timeline.total_seconds)}",
             f"pacing: pace {timeline.pacing['pace']:g}, breath {timeline.pacing['breath']}, "
             f"{timeline.pacing['rate']} words per minute", ""]
    holds = {h.start: h for h in timeline.holds}
    section = -1
    for event in timeline.events:
        if event.section != section:
            section = event.section
            s = timeline.sections[section]
            lines.append(f"{clock(seconds(s.start))}  == {safe_line(s.title)} "
                         f"({clock(seconds(s.length))}) ==")
        at = clock(seconds(event.start))
        if event.start in holds:
            h = holds[event.start]
            side = f", {h.side}" if h.side else ""
            lines.append(f"{at}     [hold {seconds(h.length):g} s{side}]")
        if event.kind == EventKind.SPEECH:
            lines.append(f"{at}     \"{safe_line(event.text)}\"")
        elif event.kind == EventKind.CUE:
            lines.append(f"{at}     ({event.cue})")
        elif event.kind == EventKind.CHECKIN:
            lines.append(f"{at}     check-in: \"{safe_line(event.text)}\" "
                         f"(then {seconds(event.pause):g} s to answer)")
        elif event.length >= 2 * timeline.sample_rate:
            lines.append(f"{at}     ... {seconds(event.length):.0f} s quiet")
    lines.append(f"{clock(timeline.total_seconds)}  end — total {clock(timeline.total_seconds)}")
    return "\n".join(lines)
