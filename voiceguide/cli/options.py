"""The options the commands share: typed ranges whose limits are the settings' own,
the options of every command that builds a timeline, routine completion, and the
settings named in ``config set --help``.

click checks the numeric options itself (its messages name the option); the limits
come from :mod:`voiceguide.routine.pacing` and :mod:`voiceguide.settings`, the same
constants their parser holds the settings file to. A long bad value is echoed as
:func:`voiceguide.errors.shown` echoes it, never whole.
"""

from __future__ import annotations

import math

import click

from voiceguide.errors import SHOWN_CHARACTERS, shown
from voiceguide.routine.pacing import (BREATH_SAFE_HOLD, BREATH_SAFE_PHASE, HOLD_LIMITS,
                                       LENGTH_LIMITS, RATE_LIMITS, REPS_LIMITS, REST_LIMITS,
                                       span)
from voiceguide.settings import CHECKIN_TIMEOUT_LIMITS

VOICE_HELP = "Voice id or part of its name (see 'voiceguide voices')."


class _Shortened:
    """A click number range whose error for a value longer than
    :data:`~voiceguide.errors.SHOWN_CHARACTERS` echoes it as
    :func:`~voiceguide.errors.shown` does (click's own message echoes all of it)."""

    kind = "a number"

    def convert(self, value, param, ctx):
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            if not isinstance(value, str) or len(value) <= SHOWN_CHARACTERS:
                raise
        self.fail(f"{shown(value)} is not {self.kind} in the range "
                  f"{self.min}<=x<={self.max}.", param, ctx)


class IntRange(_Shortened, click.IntRange):
    """click's IntRange, echoing a long bad value shortened."""

    kind = "a whole number"


class FloatRange(_Shortened, click.FloatRange):
    """click's FloatRange, refusing NaN too (which compares false with both ends), and
    echoing a long bad value shortened."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{shown(value)} is not a number.", param, ctx)
        return number


# Typed ranges for the numeric options: the same limits the settings file is held to
HOLD = FloatRange(*HOLD_LIMITS)
REPS = IntRange(*REPS_LIMITS)
RATE = IntRange(*RATE_LIMITS)
REST = FloatRange(*REST_LIMITS)
LENGTH = FloatRange(*LENGTH_LIMITS)
CHECKIN_TIMEOUT = FloatRange(*CHECKIN_TIMEOUT_LIMITS)


def timeline_options(func):
    """The options every command that builds a timeline takes (show, play, export)."""
    options = [
        click.option("--pace", help="slow, normal, fast, or a factor such as 1.3 (bigger is slower)."),
        click.option("--hold", type=HOLD,
                     help=f"Seconds for every timed hold ({span(HOLD_LIMITS)})."),
        click.option("--reps", type=REPS, help="Rounds of breath-paced and repeated exercises "
                                               f"({span(REPS_LIMITS)})."),
        click.option("--breath",
                     help="Breath pattern: 4-6 (in 4 s, out 6 s), 4-2-6 or 4-2-6-0 (with "
                          f"holds); in and out at least {BREATH_SAFE_PHASE} s, holds at "
                          f"most {BREATH_SAFE_HOLD} s."),
        click.option("--rate", type=RATE,
                     help=f"Speech rate in words per minute ({span(RATE_LIMITS)})."),
        click.option("--rest", type=REST,
                     help=f"Seconds of quiet between exercises ({span(REST_LIMITS)})."),
        click.option("--length", type=LENGTH,
                     help="Fit the routine to about this many minutes, within safe doses "
                          "(leaving out whole exercises, or doing them a second time, if need be)."),
        click.option("--beyond-doses", is_flag=True,
                     help="Let --hold and --reps go outside each technique's dose range "
                          "(outside the sources' doses; by default they are clamped), "
                          "and --breath past its limits, with a warning."),
        click.option("--voice", help=VOICE_HELP),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def complete_routine(ctx, param, incomplete):
    """Shell completion of a ROUTINE: the names of the routines, built-in and yours,
    or files when what is typed looks like a path."""
    from click.shell_completion import CompletionItem

    if "/" in incomplete or incomplete.startswith("."):
        return [CompletionItem(incomplete, type="file")]
    try:
        from voiceguide import catalog
        names = sorted(catalog.load_library().routines)
    except Exception:  # noqa: BLE001 - completion must never print an error
        return []
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]


class SettingsHelp(click.Command):
    """``config set --help`` lists every setting name, from the code itself."""

    def format_epilog(self, ctx, formatter) -> None:
        from voiceguide import settings

        formatter.write_paragraph()
        formatter.write_text("Settings: " + ", ".join(settings.KEYS) +
                             " (see 'voiceguide config show').")
        super().format_epilog(ctx, formatter)


class Moment(click.ParamType):
    """A moment of a routine: ``MM:SS``, ``H:MM:SS`` or seconds, as seconds (a float)."""

    name = "MM:SS"

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)):
            return float(value)
        parts = str(value).strip().split(":")
        try:
            if not 1 <= len(parts) <= 3 or any(not p.strip() for p in parts):
                raise ValueError
            numbers = [float(p) for p in parts]
            if any(not math.isfinite(n) or n < 0 for n in numbers) or \
                    any(n >= 60 for n in numbers[1:]):
                raise ValueError
        except ValueError:
            self.fail(f"{shown(value)} is not a moment like 02:30, 1:05:00 or 150",
                      param, ctx)
        total = 0.0
        for number in numbers:
            total = total * 60 + number
        return total
