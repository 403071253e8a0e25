"""The command line: thin click commands over the library."""

from __future__ import annotations

import json
import sys

import click

from voiceguide import __version__
from voiceguide.errors import EXIT_INTERRUPTED, VoiceguideError


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
@click.option("--json", "as_json", is_flag=True, help="Print the timeline as JSON.")
def show(routine, as_json, **options):
    """Show a routine's timeline. ROUTINE is a name or a path to a .toml file."""
    from voiceguide import commands

    timeline = commands.timeline_for(routine, options)
    if as_json:
        click.echo(json.dumps(timeline.to_json(), indent=1))
    else:
        click.echo(commands.format_timeline(timeline))


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
