"""Pacing: how fast a routine goes, and the checks on every pacing value.

Pacing values arrive as text (command line, settings file) or TOML values (routine
files). :func:`parse_value` turns one raw value into a checked one or raises
``ValueError`` with a message fit for the user; callers add where it came from.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields

PACE_NAMES = {"slow": 1.3, "normal": 1.0, "fast": 0.8}
PACE_LIMITS = (0.5, 2.0)
HOLD_LIMITS = (5, 300)        # seconds; a hold of 0 or of 20 minutes is refused
REPS_LIMITS = (1, 30)
RATE_LIMITS = (80, 300)       # words per minute
REST_LIMITS = (0, 120)        # seconds between exercises
LENGTH_LIMITS = (1, 120)      # minutes, for --length
BREATH_PHASE_LIMITS = (0, 12)  # seconds per phase; inhale and exhale need >= 1
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
    rate: int = 160
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


def parse_pace(raw) -> float:
    """``slow``, ``normal``, ``fast`` or a factor such as ``1.3`` (bigger is slower)."""
    if isinstance(raw, str) and raw.strip().lower() in PACE_NAMES:
        return PACE_NAMES[raw.strip().lower()]
    value = _number(raw, "a pace of slow, normal, fast or a factor such as 1.3")
    return _within(value, PACE_LIMITS, "pace factor")


def parse_breath(raw) -> BreathPattern:
    """``4-6`` (inhale 4 s, exhale 6 s) or ``4-2-6-0`` (with holds)."""
    text = str(raw).strip()
    if not re.fullmatch(r"\d+(\.\d+)?(-\d+(\.\d+)?){1,3}", text) or text.count("-") == 2:
        raise ValueError(f"breath pattern must look like 4-6 or 4-2-6-0, not {raw!r}")
    parts = [float(p) for p in text.split("-")]
    if len(parts) == 2:
        parts = [parts[0], 0, parts[1], 0]
    for value in parts:
        _within(value, BREATH_PHASE_LIMITS, "each breath phase")
    if parts[0] < 1 or parts[2] < 1:
        raise ValueError("inhale and exhale must each last at least 1 second")
    return BreathPattern(*parts)


def parse_hold(raw) -> float:
    """A hold length in seconds, 5 to 300."""
    return _within(_number(raw, "a number of seconds"), HOLD_LIMITS, "hold")


def parse_reps(raw) -> int:
    """A count of rounds or repetitions, 1 to 30."""
    value = _number(raw, "a whole number")
    if not float(value).is_integer():
        raise ValueError(f"reps must be a whole number, not {raw!r}")
    return int(_within(value, REPS_LIMITS, "reps"))


def parse_rate(raw) -> int:
    """A speech rate in words per minute, 80 to 300."""
    value = _number(raw, "a number of words per minute")
    return int(round(_within(value, RATE_LIMITS, "speech rate (words per minute)")))


def parse_rest(raw) -> float:
    """Seconds of quiet between exercises, 0 to 120."""
    return _within(_number(raw, "a number of seconds"), REST_LIMITS, "rest")


def parse_bool(raw) -> bool:
    """``true``/``false``, ``on``/``off``, ``yes``/``no``."""
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("true", "on", "yes", "1"):
        return True
    if text in ("false", "off", "no", "0"):
        return False
    raise ValueError(f"must be on or off (true or false), not {raw!r}")


def parse_voice_guidance(raw) -> str:
    """``full`` or ``cues-only``."""
    text = str(raw).strip().lower()
    if text not in ("full", "cues-only"):
        raise ValueError(f"must be full or cues-only, not {raw!r}")
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


def parse_value(key: str, raw):
    """Check one raw pacing value; ``ValueError`` with a user-facing message if bad."""
    return PARSERS[key](raw)


def _number(raw, what: str) -> float:
    if isinstance(raw, bool):
        raise ValueError(f"expected {what}, not {raw!r}")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"expected {what}, not {raw!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"expected {what}, not {raw!r}")
    return value


def span(limits: tuple[float, float]) -> str:
    """``limits`` as the documents write them: ``5-300``."""
    return f"{_num(limits[0])}-{_num(limits[1])}"


def _within(value: float, limits: tuple[float, float], what: str) -> float:
    low, high = limits
    if not low <= value <= high:
        raise ValueError(f"{what} must be between {_num(low)} and {_num(high)}, not {_num(value)}")
    return value
