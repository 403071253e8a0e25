"""Pacing: how fast a routine goes, and the one parser of numbers and their ranges.

Pacing values arrive as text (command line, settings file) or TOML values (routine
files). :func:`parse_value` turns one raw value into a checked one or raises
``ValueError`` with a message fit for the user; callers add where it came from.
:func:`number`, :func:`finite` and :func:`within` are the number parsing and range
checks every value is held to (pacing here, volumes and the check-in wait in
:mod:`voiceguide.settings`, ``--length`` in :func:`parse_length`); the command line's
click ranges take their limits from the same constants.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields

from voiceguide.errors import shown

#: A value as it arrives: text from the command line, or a TOML value.
Raw = str | int | float | bool

PACE_NAMES = {"slow": 1.3, "normal": 1.0, "fast": 0.8}
DEFAULT_RATE = 160            # words per minute, when none is given
PACE_LIMITS = (0.5, 2.0)
HOLD_LIMITS = (5, 300)        # seconds; a hold of 0 or of 20 minutes is refused
REPS_LIMITS = (1, 30)
RATE_LIMITS = (80, 300)       # words per minute
REST_LIMITS = (0, 120)        # seconds between exercises
LENGTH_LIMITS = (1, 120)      # minutes, for --length
BREATH_PHASE_LIMITS = (0, 12)  # seconds per phase; inhale and exhale need >= 1
BREATH_SAFE_PHASE = 2         # seconds: the shortest breath in or out within the limits
BREATH_SAFE_HOLD = 4          # seconds: the longest breath hold within the limits
CHECKIN_PAUSE = 5.0           # seconds of quiet after a check-in question in an export


@dataclass(frozen=True)
class BreathPattern:
    """Seconds of inhale, hold after inhale, exhale, hold after exhale."""

    inhale: float = 4
    hold_in: float = 0
    exhale: float = 6
    hold_out: float = 0

    def __str__(self) -> str:
        parts = [self.inhale, self.hold_in, self.exhale, self.hold_out]
        if self.hold_in == 0 and self.hold_out == 0:
            parts = [self.inhale, self.exhale]
        return "-".join(_num(p) for p in parts)


@dataclass(frozen=True)
class Pacing:
    """Every value that shapes a routine's timing. Defaults are "normal"."""

    pace: float = 1.0
    hold: float | None = None
    reps: int | None = None
    breath: BreathPattern = field(default_factory=BreathPattern)
    rate: int = DEFAULT_RATE
    rest: float | None = None   # None: 5 s scaled by pace
    countdown: bool = True
    voice_guidance: str = "full"
    dose: float = 1.0           # from --length: scales holds, rounds and rests in range
    beyond_doses: bool = False  # --beyond-doses: --hold and --reps may leave the ranges

    def as_dict(self) -> dict:
        """The pacing as plain JSON-friendly values."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["breath"] = str(self.breath)
        return out


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def parse_pace(raw: Raw) -> float:
    """``slow``, ``normal``, ``fast`` or a factor such as ``1.3`` (bigger is slower)."""
    if isinstance(raw, str) and raw.strip().lower() in PACE_NAMES:
        return PACE_NAMES[raw.strip().lower()]
    value = finite(raw, "a pace of slow, normal, fast or a factor such as 1.3")
    return within(value, PACE_LIMITS, "pace factor")


def parse_breath(raw: Raw) -> BreathPattern:
    """``4-6`` (inhale 4 s, exhale 6 s), ``4-2-6`` (a hold after the inhale) or
    ``4-2-6-0`` (a hold after each), within the safe limits: ``ValueError`` naming
    the limit otherwise (see :func:`breath_beyond`)."""
    pattern = parse_any_breath(raw)
    beyond = breath_beyond(pattern)
    if beyond:
        raise ValueError(f"{beyond}, not {shown(raw)}")
    return pattern


def breath_beyond(pattern: BreathPattern) -> str | None:
    """The safe limit ``pattern`` goes beyond, as a phrase, or None: each breath in
    and out lasts at least :data:`BREATH_SAFE_PHASE` seconds (not rushed) and each
    hold at most :data:`BREATH_SAFE_HOLD` (never holding the breath long)."""
    if min(pattern.inhale, pattern.exhale) < BREATH_SAFE_PHASE:
        return f"each breath in and out lasts at least {BREATH_SAFE_PHASE} seconds"
    if max(pattern.hold_in, pattern.hold_out) > BREATH_SAFE_HOLD:
        return f"each breath hold lasts at most {BREATH_SAFE_HOLD} seconds"
    return None


def parse_any_breath(raw: Raw) -> BreathPattern:
    """A breath pattern as :func:`parse_breath` reads it, beyond the safe limits too
    (``--breath`` with ``--beyond-doses``): 0-12 s a phase, in and out at least 1 s."""
    text = str(raw).strip()
    if not re.fullmatch(r"\d+(\.\d+)?(-\d+(\.\d+)?){1,3}", text):
        raise ValueError(f"breath pattern must look like 4-6, 4-2-6 or 4-2-6-0, "
                         f"not {shown(raw)}")
    parts = [float(p) for p in text.split("-")]
    if len(parts) == 2:
        parts = [parts[0], 0, parts[1], 0]
    if len(parts) == 3:
        parts.append(0)
    for value in parts:
        within(value, BREATH_PHASE_LIMITS, "each breath phase")
    if parts[0] < 1 or parts[2] < 1:
        raise ValueError("inhale and exhale must each last at least 1 second")
    return BreathPattern(*parts)


def parse_hold(raw: Raw) -> float:
    """A hold length in seconds, 5 to 300."""
    return within(finite(raw, "a number of seconds"), HOLD_LIMITS, "hold")


def parse_reps(raw: Raw) -> int:
    """A count of rounds or repetitions, 1 to 30."""
    value = finite(raw, "a whole number")
    if not float(value).is_integer():
        raise ValueError(f"reps must be a whole number, not {shown(raw)}")
    return int(within(value, REPS_LIMITS, "reps"))


def parse_rate(raw: Raw) -> int:
    """A speech rate in words per minute, 80 to 300."""
    value = finite(raw, "a number of words per minute")
    return int(round(within(value, RATE_LIMITS, "speech rate (words per minute)")))


def parse_rest(raw: Raw) -> float:
    """Seconds of quiet between exercises, 0 to 120."""
    return within(finite(raw, "a number of seconds"), REST_LIMITS, "rest")


def parse_length(raw: Raw) -> float:
    """``--length``: minutes to fit a routine to, within :data:`LENGTH_LIMITS`."""
    return within(number(raw, "a number of minutes"), LENGTH_LIMITS, unit=" minutes",
                  given=shown(raw))


def parse_bool(raw: Raw) -> bool:
    """``true``/``false``, ``on``/``off``, ``yes``/``no``."""
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("true", "on", "yes", "1"):
        return True
    if text in ("false", "off", "no", "0"):
        return False
    raise ValueError(f"must be on or off (true or false), not {shown(raw)}")


def parse_voice_guidance(raw: Raw) -> str:
    """``full`` or ``cues-only``."""
    text = str(raw).strip().lower()
    if text not in ("full", "cues-only"):
        raise ValueError(f"must be full or cues-only, not {shown(raw)}")
    return text


#: Each pacing key and the function that checks its raw value.
PARSERS = {
    "pace": parse_pace,
    "hold": parse_hold,
    "reps": parse_reps,
    "breath": parse_breath,
    "rate": parse_rate,
    "rest": parse_rest,
    "countdown": parse_bool,
    "voice_guidance": parse_voice_guidance,
}


def parse_value(key: str, raw: Raw):
    """Check one raw pacing value; ``ValueError`` with a user-facing message if bad."""
    return PARSERS[key](raw)


def number(raw: Raw, what: str = "a number") -> float:
    """``raw`` (text or a TOML number) as a float; a boolean is not a number.

    Raises ``ValueError("expected {what}, not {shown(raw)}")``. NaN and infinity pass, for
    the range check after it to refuse (:func:`finite` refuses them here instead).
    """
    if isinstance(raw, bool):
        raise ValueError(f"expected {what}, not {shown(raw)}")
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"expected {what}, not {shown(raw)}") from None


def finite(raw: Raw, what: str) -> float:
    """:func:`number`, refusing NaN and infinity with the same message."""
    value = number(raw, what)
    if not math.isfinite(value):
        raise ValueError(f"expected {what}, not {shown(raw)}")
    return value


def within(value: float, limits: tuple[float, float], what: str = "", *, unit: str = "",
           given: str | None = None) -> float:
    """``value`` when ``low <= value <= high`` (NaN never is), else ``ValueError``.

    The message is "{what} must be between {low} and {high}{unit}, not {given}": ``what``
    names the value (or is left out), ``unit`` follows the limits (`` seconds``), and
    ``given`` is how the value was given, as :func:`~voiceguide.errors.shown` echoes it
    (default: the value as :func:`span` writes it).
    """
    low, high = limits
    if not low <= value <= high:
        name = f"{what} " if what else ""
        given = _num(value) if given is None else given
        raise ValueError(f"{name}must be between {_num(low)} and {_num(high)}{unit}, "
                         f"not {given}")
    return value


def span(limits: tuple[float, float]) -> str:
    """``limits`` as the documents write them: ``5-300``."""
    return f"{_num(limits[0])}-{_num(limits[1])}"
