"""The click commands: thin commands over the library.

Each command parses its options, resolves the settings once where it needs them
(:func:`voiceguide.settings.resolve`), calls :mod:`voiceguide.cli.commands` or the
session with typed values, and prints. The shared options are in
:mod:`voiceguide.cli.options`, the group that shows every error as one line in
:mod:`voiceguide.cli.group`, and the process's entry point (signals, exit statuses)
in :mod:`voiceguide.cli.main`.
"""

from __future__ import annotations

import json
import sys

import click

from voiceguide import __version__
from voiceguide.cli.group import Group
from voiceguide.cli.options import (CHECKIN_TIMEOUT, RATE, VOICE_HELP, FloatRange, IntRange, Moment,
                                    SettingsHelp, complete_routine, timeline_options)
from voiceguide.errors import safe_line
from voiceguide.routine.pacing import RATE_LIMITS, span
from voiceguide.settings import DEFAULTS, Settings
from voiceguide.timing.timeline import clock

ENDINGS = {
    "completed": "Routine complete.",
    "stopped": "Stopped for safety. If the pain does not settle, or you felt sharp or "
               "shooting pain, numbness, tingling or weakness, please see a doctor or "
               "physical therapist.",
    "quit": "Stopped.",
    "not-started": "Not started: once or twice a day is enough.",
    "not-today": "Not started: with pain this strong, see a doctor or physical therapist "
                 "first.",
}


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="voiceguide")
def cli():
    """A hands-free, voice-guided player for gentle back-relief routines.

    Not medical advice. Stop at once if you feel sharp or shooting pain,
    numbness, tingling or weakness, and see a professional.
    """


def _notes(notes) -> None:
    for note in notes:
        click.echo(f"voiceguide: {safe_line(note)}", err=True)


# ------------------------------------------------------------------ routines

@cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_command(as_json):
    """List the routines (built-in and yours) and the techniques.

    Example: voiceguide list --json
    """
    from voiceguide.cli import commands

    listing = commands.listing()
    _notes(listing["warnings"])
    if as_json:
        routines = [{k: r[k] for k in ("name", "title", "minutes", "estimated")}
                    for r in listing["routines"]]
        click.echo(json.dumps({"routines": routines, "techniques": listing["techniques"]},
                              indent=2))
        return
    click.echo("Routines (minutes; ~ estimated, its speech not made yet):")
    for r in listing["routines"]:
        mark = "" if r["builtin"] else "  (yours)"
        length = ("~" if r["estimated"] else " ") + f"{r['minutes']:.1f}"
        click.echo(safe_line(f"  {r['name']:<14} {length:>6}  {r['title']}{mark}"))
    click.echo("\nTechniques:")
    for t in listing["techniques"]:
        click.echo(f"  {t['id']:<26} {t['title']}")


@cli.command()
@click.argument("routine", shell_complete=complete_routine)
@timeline_options
@click.option("--json", "as_json", is_flag=True, help="Print the timeline as JSON.")
@click.option("--for", "audience", type=click.Choice(["play", "export"]), default="play",
              show_default=True,
              help="What play says (with its check-in questions), or what export writes "
                   "and play --no-checkins plays (a recording: it asks nothing).")
@click.option("--stop-at", "stop_at", type=Moment(), multiple=True,
              help="Print what the guide says if stopped at this moment (MM:SS) instead; "
                   "may be given more than once.")
def show(routine, as_json, audience, length, beyond_doses, stop_at, **line):
    """Show a routine's timeline. ROUTINE is a name or a path to a .toml file.

    Lengths are those of the real synthesized speech, so they match play (or,
    with --for export, export) to the sample. With --stop-at, the stop path at
    that moment: the position the body is in, and every line the guide says from
    there.

    Example: voiceguide show morning --pace slow
    """
    from voiceguide import catalog
    from voiceguide.cli import commands
    from voiceguide.timing.timeline import Audience

    library = catalog.load_library()
    timeline, notes = commands.timeline_for(routine, line, length=length,
                                            beyond_doses=beyond_doses, library=library,
                                            audience=Audience(audience))
    _notes(notes)
    if stop_at:
        click.echo(commands.stop_paths_text(timeline, library, stop_at, as_json))
    elif as_json:
        click.echo(json.dumps(timeline.to_json(), indent=1))
    else:
        click.echo(commands.format_timeline(timeline))


def _progress_bar(label: str, total: int):
    """A click progress bar on a terminal, nothing otherwise."""
    if not sys.stderr.isatty() or total <= 0:
        return None
    return click.progressbar(length=total, label=label, file=sys.stderr, show_eta=True)


def _synthesis_progress():
    """Reports clip synthesis on a terminal: "Preparing voice: 12/80"."""
    if not sys.stderr.isatty():
        return None

    def report(done: int, total: int) -> None:
        click.echo(f"\rPreparing voice: {done}/{total}", err=True, nl=done >= total)

    return report


@cli.command()
@click.argument("routine", shell_complete=complete_routine)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="File to write: .wav, .flac, .ogg or .mp3.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@timeline_options
def export(routine, output, force, length, beyond_doses, **line):
    """Export a routine to an audio file, with chapters beside it (FILE.vtt).

    A recording cannot hear: it says so first, and asks nothing; where play
    asks a check-in question it rests, saying to pause it if anything hurts.
    FILE.vtt holds the chapters and a caption for every spoken line.

    Example: voiceguide export morning -o morning.mp3
    """
    from pathlib import Path

    from voiceguide.audio import exporter
    from voiceguide.session import prepare as preparing
    from voiceguide.timing.timeline import Audience

    output = Path(output)
    exporter.check_target(output, force)
    prepared = preparing.prepare_named(routine, line, length=length, beyond_doses=beyond_doses,
                                       progress=_synthesis_progress(),
                                       audience=Audience.EXPORT)
    _notes(prepared.notes)
    bar = _progress_bar("Exporting", prepared.timeline.total_samples)
    try:
        if bar is None:
            audio, chapters = preparing.export(prepared, output, force)
        else:
            with bar:
                audio, chapters = preparing.export(prepared, output, force, bar.update)
    finally:
        prepared.speech.close()
    click.echo(safe_line(f"Wrote {audio} ({clock(prepared.timeline.total_seconds)}) "
                         f"and {chapters}"))


@cli.command()
@click.argument("routine", shell_complete=complete_routine)
@click.option("--device", help="Output device number or part of its name (see 'voiceguide devices').")
@click.option("--no-checkins", is_flag=True,
              help="Play exactly what 'export' writes: no questions, a short rest at "
                   "each check-in.")
@click.option("--checkin-timeout", type=CHECKIN_TIMEOUT, help="Seconds to wait for an answer at a check-in "
                   f"(default {DEFAULTS.checkin_timeout:g}).")
@click.option("--listen/--no-listen", default=None,
              help="Answer check-ins by voice (default: when a microphone exists).")
@click.option("--intro", is_flag=True, help="Play the not-medical-advice notice again.")
@timeline_options
def play(routine, device, no_checkins, checkin_timeout, listen, intro, length, beyond_doses,
         **line):
    """Play a routine, hands-free.

    Check-ins are answered by voice (good, same, worse, stop; numbers for pain;
    yes or no) or by key. Keys (no Enter needed): space pause/resume, n next
    exercise, b back to the start of this exercise, s stop, q quit. At a
    check-in: g or Enter good, a same, w worse, s stop; pain 0-9, t for 10;
    y or n for yes or no. Ctrl-C stops at once.

    Example: voiceguide play morning --breath 4-6
    """
    from voiceguide.audio.devices import resolve_output, start_early
    from voiceguide.session import play as session
    from voiceguide.session import prepare as preparing
    from voiceguide.terminal import KeyReader, wrap
    from voiceguide.timing.timeline import Audience

    portaudio = start_early()
    line.update(checkin_timeout=checkin_timeout,
                listen=None if listen is None else ("on" if listen else "off"))
    try:
        found, chosen, library = preparing.resolved(routine, line)
        prepared = preparing.prepare(found, chosen, library, length=length,
                                     beyond_doses=beyond_doses, background=True,
                                     audience=Audience.EXPORT if no_checkins
                                     else Audience.PLAY)
    finally:
        portaudio.join()  # never exit while PortAudio is starting: it would crash
    _notes(prepared.notes)
    resolve_output(device)
    reader = KeyReader()
    interactive = reader.start()
    try:
        if interactive:
            click.echo(wrap(f"{prepared.routine.title}: "
                            f"{clock(prepared.timeline.total_seconds)}. "
                            "Keys: space pause, n next, b back, s stop, q quit.", sys.stdout))
        keys = reader.keys if interactive else None
        ending = session.play_session(prepared, _play_options(chosen, device, no_checkins, keys),
                                      "again" if intro else chosen.intro)
    finally:
        reader.stop()
        prepared.speech.close()
    click.echo(ENDINGS[ending])


def _play_options(chosen: Settings, device: str | None, no_checkins: bool, keys):
    """How to play, from the chosen settings and play's own options; ``keys`` is the
    queue of key presses on a terminal (None elsewhere, and then no status line)."""
    from voiceguide.session import play as session

    return session.PlayOptions(
        device=device, checkins=not no_checkins,
        checkin_timeout=chosen.checkin_timeout, listen=chosen.listen,
        barge_in=chosen.barge_in, keys=keys,
        status=sys.stdout if keys is not None and sys.stdout.isatty() else None,
        say=lambda text: click.echo(text, err=True))


@cli.command()
@click.argument("name")
@click.option("--from", "source", help="Start from this routine (a name or a .toml path).")
@click.option("--force", is_flag=True, help="Replace your routine of that name.")
def new(name, source, force):
    """Write a new routine of your own, ready to play and to edit.

    It goes in your routines folder and opens in $EDITOR when that is set.

    Example: voiceguide new mine --from lower-back
    """
    from voiceguide import user_routines

    path = user_routines.create(name, source, force)
    click.echo(safe_line(f"Wrote {path}"))
    if user_routines.open_in_editor(path):
        problems = user_routines.problems(path)
        for problem in problems:
            click.echo(f"voiceguide: {problem}", err=True)
    click.echo(f"Play it with: voiceguide play {name}")


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
def check(file):
    """Check a routine or technique file and report every problem with its line.

    Example: voiceguide check ~/.config/voiceguide/routines/mine.toml
    """
    from pathlib import Path

    from voiceguide import user_routines

    summary, problems = user_routines.check(Path(file))
    for problem in problems:
        click.echo(safe_line(str(problem)), err=True)
    if problems:
        raise click.exceptions.Exit(2)
    click.echo(summary)


@cli.command()
@click.option("--file", "wavs", multiple=True, type=click.Path(dir_okay=False),
              help="Recognize a WAV file (any sample rate) instead of the microphone; "
                   "repeat for several (one answer per line).")
@click.option("--seconds", type=FloatRange(0.5, 60), default=5.0, show_default=True,
              help="How long to listen on the microphone.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def hear(wavs, seconds, as_json):
    """Recognize one spoken answer, to test your microphone.

    Prints good, same, worse, stop, pause, resume, next, repeat, yes, no, a
    number 0-10, or none. A stop sign (sharp or shooting pain, numb, tingling,
    weak) is heard as stop.

    Example: voiceguide hear --seconds 5
    """
    if wavs:
        from voiceguide.hearing.recognizer import recognize_file
        heard = [(wav, recognize_file(wav)) for wav in wavs]
    else:
        from voiceguide.hearing.listener import listen_once
        click.echo(f"Listening for {seconds:g} seconds... say an answer.", err=True)
        heard = [(None, listen_once(seconds))]
    for wav, answer in heard:
        if as_json:
            click.echo(json.dumps({"file": wav, "answer": answer.word,
                                   "confidence": round(answer.confidence, 3),
                                   "heard": answer.heard}))
        else:
            click.echo(answer.word)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV, to share with a clinician.")
@click.option("--limit", type=IntRange(1, 10000), default=30, show_default=True,
              help="How many recent sessions.")
def history(as_json, as_csv, limit):
    """Recent sessions and your pain before and after, day by day.

    Example: voiceguide history --csv > back.csv
    """
    from voiceguide import history as log

    with log.History(reading=True) as db:
        _notes(db.warnings)
        records = db.sessions(limit)
    if as_csv:
        click.echo(log.to_csv(records), nl=False)
    else:
        from voiceguide.cli import commands

        click.echo(commands.history_text(records, as_json))


# ------------------------------------------------------------------- settings

@cli.group()
def config():
    """Your settings file: where it is, what is in effect, and editing it.

    Example: voiceguide config set pace slow
    """


@config.command("path")
def config_path():
    """Print where the settings file is (it may not exist yet).

    Example: voiceguide config path
    """
    from voiceguide import settings

    click.echo(settings.settings_path())


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def config_show(as_json):
    """Print every setting in effect and where its value comes from.

    Example: voiceguide config show --json
    """
    from voiceguide import settings

    chosen = settings.resolve({})
    rows = [(key, settings.display(key, chosen.value(key)), chosen.sources[key])
            for key in settings.KEYS]
    if as_json:
        click.echo(json.dumps({k: {"value": v, "source": s} for k, v, s in rows}, indent=2))
        return
    click.echo(safe_line(f"# {settings.settings_path()}"))
    for key, value, source in rows:
        click.echo(safe_line(f"{key:<16} {value:<12} ({source})"))


@config.command("set", cls=SettingsHelp)
@click.argument("key")
@click.argument("value")
def config_set(key, value):
    """Set KEY to VALUE in the settings file (comments are kept).

    Example: voiceguide config set rate 150
    """
    from voiceguide import settings

    path = settings.set_value(key, value)
    click.echo(safe_line(f"{key} = {value} in {path}"))


@config.command("unset")
@click.argument("key")
def config_unset(key):
    """Remove KEY from the settings file (back to the default).

    Example: voiceguide config unset rate
    """
    from voiceguide import settings

    removed = settings.unset_value(key)
    click.echo(f"{key} removed" if removed else f"{key} was not set")


# -------------------------------------------------------------- voice, sound

@cli.command()
@click.option("--lang", help="Only voices for this language (such as en, en-gb).")
@click.option("--say", help="Say this text with --voice, as a preview.")
@click.option("--voice", help=VOICE_HELP)
@click.option("--rate", type=RATE,
              help=f"Speech rate in words per minute ({span(RATE_LIMITS)}).")
@click.option("--device", help="Output device for --say.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--add", "add", metavar="PATH",
              help="Copy a Piper voice (a .onnx file, its .onnx.json beside it) into your "
                   "voice folder.")
def voices(lang, say, voice, rate, device, as_json, add):
    """List the installed voices (engine, language, quality), add a Piper voice with
    --add, or preview one with --say.

    Example: voiceguide voices --lang en --say "Breathe in"
    """
    from voiceguide.cli import commands

    if add:
        from voiceguide.speech import add_voice

        added = add_voice(add)
        click.echo(f"Added voice {added.name} ({added.path}); use it with --voice {added.name}")
        return
    if say:
        from voiceguide import settings

        used = commands.preview_voice(say, settings.resolve({"voice": voice, "rate": rate}),
                                      device)
        click.echo(f"Said with voice {used}.")
        return
    found = commands.voices(lang)
    if as_json:
        click.echo(json.dumps([v.__dict__ for v in found], indent=2, default=list))
        return
    for v in found:
        click.echo(f"{v.id:<28} {v.name:<28} {v.engine:<7} {v.quality or '-':<7} "
                   f"{', '.join(v.languages)}")


@cli.command()
def devices():
    """List the audio output devices.

    Example: voiceguide devices
    """
    from voiceguide.audio.devices import output_devices

    found = output_devices()
    if not found:
        click.echo("No audio output device found. Use 'voiceguide export' to make a file.")
        return
    for d in found:
        mark = "*" if d.default else " "
        click.echo(f"{mark} {d.index:>3}  {d.name}  ({d.hostapi}, {d.default_rate:g} Hz)")


@cli.group()
def cache():
    """The cache of synthesized speech.

    Example: voiceguide cache info
    """


@cache.command("info")
def cache_info():
    """Where the cache is, how many clips and how much space.

    Example: voiceguide cache info
    """
    from voiceguide.speech.clipcache import ClipCache

    info = ClipCache().info()
    click.echo(f"{info['path']}: {info['clips']} clips, {info['bytes'] / 1e6:.1f} MB "
               f"of {info['max_bytes'] / 1e6:.0f} MB")


@cache.command("clear")
def cache_clear():
    """Delete every cached clip.

    Example: voiceguide cache clear
    """
    from voiceguide.speech.clipcache import ClipCache

    click.echo(f"Removed {ClipCache().clear()} clips.")
