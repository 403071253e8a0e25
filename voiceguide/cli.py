"""The command line: thin click commands over the library."""

from __future__ import annotations

import json
import sys

import click

from voiceguide import __version__
from voiceguide.errors import EXIT_INTERRUPTED, VoiceguideError
from voiceguide.timeline import clock


def pacing_options(func):
    """The pacing options every timeline command takes."""
    options = [
        click.option("--pace", help="slow, normal, fast, or a factor such as 1.3 (bigger is slower)."),
        click.option("--hold", help="Seconds for every timed hold (5-300)."),
        click.option("--reps", help="Rounds of breath-paced and repeated exercises (1-30)."),
        click.option("--breath", help="Breath pattern: 4-6 (in 4 s, out 6 s) or 4-2-6-0 (with holds)."),
        click.option("--rate", help="Speech rate in words per minute (80-300)."),
        click.option("--rest", help="Seconds of quiet between exercises (0-120)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


PACING_OPTION_NAMES = ("pace", "hold", "reps", "breath", "rate", "rest")


class UserError(click.ClickException):
    """A :class:`VoiceguideError` shown as one line, with its exit status."""

    def __init__(self, error: VoiceguideError):
        super().__init__(str(error))
        self.exit_code = error.exit_code

    def show(self, file=None) -> None:
        click.echo(f"voiceguide: {self.message}", err=True)


class Group(click.Group):
    """Turns library errors into :class:`UserError` for every command."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except VoiceguideError as err:
            raise UserError(err) from None


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="voiceguide")
def cli():
    """A hands-free, voice-guided player for gentle back-relief routines.

    Not medical advice. Stop at once if you feel sharp or shooting pain,
    numbness, tingling or weakness, and see a professional.
    """


@cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_command(as_json):
    """List the routines and the techniques."""
    from voiceguide import commands

    listing = commands.listing()
    for warning in listing["warnings"]:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        routines = [{k: r[k] for k in ("name", "title", "minutes")} for r in listing["routines"]]
        click.echo(json.dumps({"routines": routines, "techniques": listing["techniques"]},
                              indent=2))
        return
    click.echo("Routines (minutes at normal pace):")
    for r in listing["routines"]:
        mark = "" if r["builtin"] else "  (yours)"
        click.echo(f"  {r['name']:<14} {r['minutes']:>5.1f}  {r['title']}{mark}")
    click.echo("\nTechniques:")
    for t in listing["techniques"]:
        click.echo(f"  {t['id']:<22} {t['title']}")


@cli.command()
@click.argument("routine")
@pacing_options
@click.option("--voice", help="Voice id or part of its name (see 'voiceguide voices').")
@click.option("--json", "as_json", is_flag=True, help="Print the timeline as JSON.")
def show(routine, voice, as_json, **options):
    """Show a routine's timeline. ROUTINE is a name or a path to a .toml file.

    Lengths are those of the real synthesized speech, so they match play and
    export to the sample.
    """
    from voiceguide import commands

    timeline, warning = commands.timeline_for(routine, options, voice)
    if warning:
        click.echo(f"voiceguide: {warning}", err=True)
    if as_json:
        click.echo(json.dumps(timeline.to_json(), indent=1))
    else:
        click.echo(commands.format_timeline(timeline))


def _progress_bar(label: str, total: int):
    """A click progress bar on a terminal, nothing otherwise."""
    if not sys.stderr.isatty() or total <= 0:
        return None
    return click.progressbar(length=total, label=label, file=sys.stderr, show_eta=True)


@cli.command()
@click.argument("routine")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="File to write: .wav, .flac, .ogg or .mp3.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.option("--voice", help="Voice id or part of its name (see 'voiceguide voices').")
@pacing_options
def export(routine, output, force, voice, **options):
    """Export a routine to an audio file, with chapters beside it (FILE.vtt).

    Check-ins become their question followed by a fixed pause.
    """
    from pathlib import Path

    from voiceguide import exporter, session

    output = Path(output)
    exporter.check_target(output, force)
    prepared = session.prepare(routine, options, voice=voice,
                               progress=_synthesis_progress())
    bar = _progress_bar("Exporting", prepared.timeline.total_samples)
    try:
        if bar is None:
            audio, chapters = session.export(prepared, output, force)
        else:
            with bar:
                audio, chapters = session.export(prepared, output, force, bar.update)
    finally:
        prepared.speech.close()
    click.echo(f"Wrote {audio} ({clock(prepared.timeline.total_seconds)}) and {chapters}")


def _synthesis_progress():
    """Reports clip synthesis on a terminal: "Preparing voice: 12/80"."""
    if not sys.stderr.isatty():
        return None

    def report(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        click.echo(f"\rPreparing voice: {done}/{total}", err=True, nl=False)
        if end:
            click.echo("", err=True)

    return report


@cli.command()
@click.argument("routine")
@click.option("--device", help="Output device number or part of its name (see 'voiceguide devices').")
@click.option("--voice", help="Voice id or part of its name (see 'voiceguide voices').")
@click.option("--no-checkins", is_flag=True,
              help="Do not wait at check-ins: play exactly what 'export' writes.")
@click.option("--checkin-timeout", type=click.FloatRange(1, 120), default=8.0, show_default=True,
              help="Seconds to wait for an answer at a check-in.")
@pacing_options
def play(routine, device, voice, no_checkins, checkin_timeout, **options):
    """Play a routine, hands-free.

    Keys (no Enter needed): space pause/resume, n next exercise, b back to the
    start of this exercise, q quit. At a check-in: g or Enter good, w worse,
    s stop. Ctrl-C stops at once.
    """
    from voiceguide import session
    from voiceguide.devices import resolve_output, start_early
    from voiceguide.keys import KeyReader

    start_early().join(0)
    prepared = session.prepare(routine, options, voice=voice,
                               progress=_synthesis_progress())
    resolve_output(device)
    reader = KeyReader()
    interactive = reader.start()
    try:
        if interactive:
            click.echo(f"{prepared.routine.title}: {clock(prepared.timeline.total_seconds)}. "
                       "Keys: space pause, n next, b back, q quit; "
                       "at a check-in g good, w worse, s stop.")
        options = session.PlayOptions(
            device=device, checkins=not no_checkins, checkin_timeout=checkin_timeout,
            keys=reader.keys if interactive else None,
            status=sys.stdout if interactive and sys.stdout.isatty() else None)
        ending = session.play(prepared, options)
    finally:
        reader.stop()
        prepared.speech.close()
    click.echo({"completed": "Routine complete.", "stopped": "Stopped for safety. "
                "Please see a professional if the pain does not settle.",
                "quit": "Stopped."}.get(ending, ending))


@cli.command()
def devices():
    """List the audio output devices."""
    from voiceguide.devices import output_devices

    found = output_devices()
    if not found:
        click.echo("No audio output device found. Use 'voiceguide export' to make a file.")
        return
    for d in found:
        mark = "*" if d.default else " "
        click.echo(f"{mark} {d.index:>3}  {d.name}  ({d.hostapi}, {d.default_rate:g} Hz)")


@cli.group()
def cache():
    """The cache of synthesized speech."""


@cache.command("info")
def cache_info():
    """Where the cache is, how many clips and how much space."""
    from voiceguide.clipcache import ClipCache

    info = ClipCache().info()
    click.echo(f"{info['path']}: {info['clips']} clips, {info['bytes'] / 1e6:.1f} MB "
               f"of {info['max_bytes'] / 1e6:.0f} MB")


@cache.command("clear")
def cache_clear():
    """Delete every cached clip."""
    from voiceguide.clipcache import ClipCache

    click.echo(f"Removed {ClipCache().clear()} clips.")


def main(argv=None):
    """Entry point: errors become one line and an exit status, Ctrl-C exits 130."""
    try:
        code = cli.main(args=argv, prog_name="voiceguide", standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("\nInterrupted.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except BrokenPipeError:
        sys.exit(0)
    sys.exit(code if isinstance(code, int) else 0)
