"""What the commands do, as library functions that return data.

The CLI parses options, calls these and prints; tests can call them directly.
"""

from __future__ import annotations

from voiceguide import catalog
from voiceguide.timing.compiler import compile_routine, estimated_speech
from voiceguide.timing.fitting import routine_minutes
from voiceguide.errors import DeviceError, VoiceguideError
from voiceguide.settings import resolve
from voiceguide.timing.timeline import EventKind, Timeline, clock, seconds


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
            resolved = resolve({}, routine)
        except VoiceguideError as err:
            warnings.append(str(err))
            continue
        pacing = resolved.pacing
        estimate = estimated_speech(pacing.rate)
        draft = compile_routine(routine, pacing, estimate, library.phrases, library.positions)
        length, estimated = _cached_lengths(draft.texts(), resolved.values["voice"],
                                            pacing.rate, estimate)
        timeline = compile_routine(routine, pacing, length, library.phrases, library.positions)
        routines.append({"name": name, "title": routine.title,
                         "minutes": routine_minutes(timeline), "estimated": estimated,
                         "builtin": name in library.builtin_routines})
    techniques = [{"id": t.id, "title": t.title}
                  for t in sorted(library.techniques.values(), key=lambda t: t.id)]
    return {"routines": routines, "techniques": techniques, "warnings": warnings}


def _cached_lengths(texts, voice: str | None, rate: int, estimate):
    """Real lengths of cached clips (estimates for the rest), and whether any text
    was estimated; no synthesis, no engine needed."""
    try:
        from voiceguide.speech import Speech, resolve_voice

        speech = Speech(voice=resolve_voice(voice) if voice else None, rate=rate)
    except DeviceError:
        return estimate, True
    try:
        missing = set(speech.missing(texts))
        known = {t: speech.seconds(t) for t in texts if t not in missing}
    finally:
        speech.close()
    return (lambda text: known[text] if text in known else estimate(text)), bool(missing)


def timeline_for(name_or_path: str, options: dict, library: catalog.Library | None = None
                 ) -> tuple[Timeline, list[str]]:
    """A routine's timeline in real speech lengths, and notes for the user.

    What is not in the speech cache yet is synthesized. Without a speech engine
    the lengths are estimated from word counts, and a note says so.
    """
    from voiceguide.session import prepare as preparing

    library = library or catalog.load_library()
    try:
        prepared = preparing.prepare(name_or_path, options, library=library)
    except DeviceError as err:
        routine = library.routine(name_or_path)
        pacing = resolve(options, routine).pacing
        timeline = compile_routine(routine, pacing, estimated_speech(pacing.rate),
                                   library.phrases, library.positions)
        return timeline, [f"{err}; speech lengths are estimated"]
    prepared.speech.close()
    return prepared.timeline, prepared.notes


def voices(lang: str | None = None) -> list:
    """Installed voices, only those for ``lang`` (a prefix such as ``en``) when given."""
    from voiceguide.speech import list_voices

    found = list_voices()
    if lang:
        wanted = lang.lower()
        found = [v for v in found if any(l.lower().startswith(wanted) for l in v.languages)
                 or v.id.lower().startswith(wanted)]
    return found


def preview_voice(text: str, voice: str | None, rate, device: str | None) -> str:
    """Say ``text`` with a voice on the output device; return the voice id used."""
    from voiceguide.audio import output
    from voiceguide.speech import Speech, resolve_voice

    values = resolve({"voice": voice, "rate": rate}).values
    voice_id = resolve_voice(values["voice"]) if values["voice"] else None
    with Speech(voice=voice_id, rate=values["rate"]) as speech:
        clip = speech.levelled(text)
    output.play_clip(clip, device)
    return voice_id or "(default)"


def format_timeline(timeline: Timeline) -> str:
    """A readable timeline: section titles, what is said and heard, holds, total."""
    lines = [f"{timeline.title} ({timeline.routine}) — {clock(timeline.total_seconds)}",
             f"pacing: pace {timeline.pacing['pace']:g}, breath {timeline.pacing['breath']}, "
             f"{timeline.pacing['rate']} words per minute", ""]
    holds = {h.start: h for h in timeline.holds}
    section = -1
    for event in timeline.events:
        if event.section != section:
            section = event.section
            s = timeline.sections[section]
            lines.append(f"{clock(seconds(s.start))}  == {s.title} "
                         f"({clock(seconds(s.length))}) ==")
        at = clock(seconds(event.start))
        if event.start in holds:
            h = holds[event.start]
            side = f", {h.side}" if h.side else ""
            lines.append(f"{at}     [hold {seconds(h.length):g} s{side}]")
        if event.kind == EventKind.SPEECH:
            lines.append(f"{at}     \"{event.text}\"")
        elif event.kind == EventKind.CUE:
            lines.append(f"{at}     ({event.cue})")
        elif event.kind == EventKind.CHECKIN:
            lines.append(f"{at}     check-in: \"{event.text}\" "
                         f"(then {seconds(event.pause):g} s to answer)")
        elif event.length >= 2 * timeline.sample_rate:
            lines.append(f"{at}     ... {seconds(event.length):.0f} s quiet")
    lines.append(f"{clock(timeline.total_seconds)}  end — total {clock(timeline.total_seconds)}")
    return "\n".join(lines)
