"""Settings: the values that shape a session, and where each one came from.

Precedence, the same for every command: command-line option > routine file >
settings file > built-in default.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from voiceguide.errors import InputError
from voiceguide.model import Routine
from voiceguide.pacing import PARSERS, Pacing

#: Keys that shape the timeline, in the order ``config show`` lists them.
PACING_KEYS = ("pace", "hold", "reps", "breath", "rate", "rest", "countdown",
               "voice_guidance")


@dataclass
class Resolved:
    """The effective pacing and the source of each value."""

    pacing: Pacing
    sources: dict[str, str] = field(default_factory=dict)


def resolve(options: dict, routine: Routine | None = None,
            file_values: dict | None = None) -> Resolved:
    """Merge the layers into one :class:`Pacing`.

    ``options`` holds raw command-line values (``None`` = not given); a bad one
    raises :class:`InputError` naming the option. Routine and settings-file values
    arrive already checked.
    """
    values, sources = {}, {}
    layers = [("settings file", file_values or {}),
              ("routine file", routine.pacing if routine else {})]
    for name, layer in layers:
        for key, value in layer.items():
            if key in PACING_KEYS and value is not None:
                values[key], sources[key] = value, name
    for key, raw in options.items():
        if key in PACING_KEYS and raw is not None:
            try:
                values[key] = PARSERS[key](raw)
            except ValueError as err:
                raise InputError(f"--{key.replace('_', '-')}: {err}") from None
            sources[key] = "command line"
    for key in PACING_KEYS:
        sources.setdefault(key, "default")
    return Resolved(Pacing(**values), sources)
