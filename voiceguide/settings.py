"""Settings: the values that shape a session, and where each one came from.

Precedence, the same for every command (``show``, ``play``, ``export``):
command-line option > routine file > settings file > built-in default.
The settings file is TOML in the per-user config folder; ``voiceguide config``
edits it with ``tomlkit`` so the user's comments and layout stay as they were.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from voiceguide import paths
from voiceguide.atomic import write_text
from voiceguide.errors import FileError, InputError, Problem
from voiceguide.routine.pacing import (DEFAULT_RATE, HOLD_LIMITS, PACE_NAMES, PARSERS,
                                       RATE_LIMITS, REPS_LIMITS, REST_LIMITS, Pacing, number,
                                       parse_bool, span, within)

SETTINGS_FILE = "settings.toml"
VOLUME_LIMITS = (0, 1)             # volume and cue_volume, a fraction
CHECKIN_TIMEOUT_LIMITS = (1, 120)  # seconds


def _fraction(raw) -> float:
    return within(number(raw), VOLUME_LIMITS, shown=repr(raw))


def _timeout(raw) -> float:
    return within(number(raw), CHECKIN_TIMEOUT_LIMITS, unit=" seconds", shown=repr(raw))


def _voice(raw) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError(f"expected a voice id or name, not {raw!r}")
    return raw.strip()


def _listen(raw) -> str:
    text = str(raw).strip().lower()
    if text == "auto":
        return "auto"
    return "on" if parse_bool(raw) else "off"


def _intro(raw) -> str:
    text = str(raw).strip().lower()
    if text not in ("first", "always", "never"):
        raise ValueError(f"must be first, always or never, not {raw!r}")
    return text


@dataclass(frozen=True)
class Key:
    """One setting: how to check it, its default, what is allowed, what it does."""

    name: str
    parse: Callable
    default: object
    allowed: str
    help: str


KEYS: dict[str, Key] = {k.name: k for k in [
    Key("pace", PARSERS["pace"], 1.0, "slow, normal, fast, or a factor 0.5-2.0",
        "Scales holds, rests and breaths (bigger is slower)."),
    Key("hold", PARSERS["hold"], None, f"{span(HOLD_LIMITS)} (seconds)",
        "Seconds for every timed hold."),
    Key("reps", PARSERS["reps"], None, span(REPS_LIMITS),
        "Rounds of breath-paced and repeated exercises."),
    Key("breath", PARSERS["breath"], "4-6", "4-6 or 4-2-6-0 style, 0-12 s a phase",
        "Breath pattern: inhale, (hold,) exhale, (hold)."),
    Key("rate", PARSERS["rate"], DEFAULT_RATE, f"{span(RATE_LIMITS)} (words per minute)", "Speech rate."),
    Key("rest", PARSERS["rest"], None, f"{span(REST_LIMITS)} (seconds)",
        "Quiet between exercises (default: 5 s scaled by pace)."),
    Key("voice", _voice, None, "a voice id, part of its name, or a Piper .onnx file "
        "(voiceguide voices)",
        "The speaking voice (default: the engine's)."),
    Key("volume", _fraction, 1.0, span(VOLUME_LIMITS), "Loudness of everything."),
    Key("cue_volume", _fraction, 1.0, span(VOLUME_LIMITS),
        "Loudness of chimes and tones, on top of volume."),
    Key("checkin_timeout", _timeout, 8.0, f"{span(CHECKIN_TIMEOUT_LIMITS)} (seconds)",
        "How long a check-in waits for an answer."),
    Key("listen", _listen, "auto", "auto, on, off",
        "Answer check-ins by voice (auto: when a microphone exists)."),
    Key("barge_in", parse_bool, True, "on, off",
        "Hear stop while the guide speaks (echo cancellation; off: only in its pauses)."),
    Key("countdown", PARSERS["countdown"], True, "on, off",
        "A spoken 3-2-1 at the end of holds."),
    Key("voice_guidance", PARSERS["voice_guidance"], "full", "full, cues-only",
        "cues-only: chimes and breath tones, with safety words and check-ins only."),
    Key("intro", _intro, "first", "first, always, never",
        "The not-medical-advice notice: on the first run only, every time, or never."),
]}

PACING_FIELDS = ("pace", "hold", "reps", "breath", "rate", "rest", "countdown",
                 "voice_guidance")


def settings_path() -> Path:
    """Where the settings file lives."""
    return paths.config_dir() / SETTINGS_FILE


def parse(key: str, raw):
    """Check one raw value; ``ValueError`` naming the allowed values if bad."""
    spec = KEYS[key]
    try:
        return spec.parse(raw)
    except ValueError as err:
        raise ValueError(f"{err} (allowed: {spec.allowed})") from None


def read_file(path: Path | None = None) -> dict:
    """The checked values of the settings file (empty when there is none).

    An unknown key or a bad value raises :class:`FileError` naming the file, the
    line, the key and the allowed values.
    """
    from voiceguide.routine.loader import key_line, read_toml

    path = path or settings_path()
    if not path.exists():
        return {}
    data, text = read_toml(path)
    values, problems = {}, []
    for key, raw in data.items():
        line = key_line(text, key)
        if key not in KEYS:
            problems.append(Problem(f"unknown setting; known: {', '.join(KEYS)}", path, line, key))
            continue
        try:
            values[key] = parse(key, raw)
        except ValueError as err:
            problems.append(Problem(str(err), path, line, key))
    if problems:
        raise FileError(problems)
    return values


@dataclass
class Resolved:
    """Every effective setting, the pacing made from them, and where each came from."""

    values: dict
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def pacing(self) -> Pacing:
        return Pacing(**{k: self.values[k] for k in PACING_FIELDS
                         if self.values[k] is not None})


def resolve(options: dict, routine=None, file_values: dict | None = None) -> Resolved:
    """Merge the four layers into one :class:`Resolved`.

    ``options`` holds raw command-line values (``None`` = not given); a bad one
    raises :class:`InputError` naming the option. ``file_values`` defaults to the
    settings file's, which is read here.
    """
    if file_values is None:
        file_values = read_file()
    values = {k: spec.default for k, spec in KEYS.items()}
    values["breath"] = PARSERS["breath"](values["breath"])
    sources = {k: "default" for k in KEYS}
    layers = [("settings file", file_values),
              ("routine file", routine.pacing if routine is not None else {})]
    for name, layer in layers:
        for key, value in layer.items():
            if key in KEYS and value is not None:
                values[key], sources[key] = value, name
    for key, raw in options.items():
        if key in KEYS and raw is not None:
            try:
                values[key] = parse(key, raw)
            except ValueError as err:
                raise InputError(f"--{key.replace('_', '-')}: {err}") from None
            sources[key] = "command line"
    return Resolved(values, sources)


def doc_row(key: str) -> str:
    """The row of ``key`` in the reference table of docs/settings.md."""
    spec = KEYS[key]
    default = "(engine's)" if key == "voice" else display(key, spec.default)
    if key in ("hold", "reps"):
        default = "(each technique's)"
    elif key == "rest":
        default = "5 × pace"
    return f"| `{key}` | {default} | {spec.allowed} | {spec.help} |"


def display(key: str, value) -> str:
    """A value as a person would type it."""
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "on" if value else "off"
    if key == "pace":
        names = {factor: name for name, factor in PACE_NAMES.items()}
        return names.get(value, f"{value:g}")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# ------------------------------------------------------------------- editing

def _toml_value(key: str, raw: str):
    """What to store for ``raw``: a number, a boolean or a string, as typed."""
    parse(key, raw)
    text = raw.strip()
    if KEYS[key].parse is parse_bool:
        return parse_bool(text)
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text else number


def set_value(key: str, raw: str, path: Path | None = None) -> Path:
    """Set ``key`` in the settings file, keeping its comments and layout."""
    import tomlkit

    if key not in KEYS:
        raise InputError(f"unknown setting {key!r}; known: {', '.join(KEYS)}")
    try:
        value = _toml_value(key, raw)
    except ValueError as err:
        raise InputError(f"{key}: {err}") from None
    path = path or settings_path()
    document = _load_document(path)
    document[key] = value
    write_text(path, tomlkit.dumps(document).rstrip("\n") + "\n")
    return path


def unset_value(key: str, path: Path | None = None) -> bool:
    """Remove ``key`` from the settings file; False if it was not set."""
    import tomlkit

    if key not in KEYS:
        raise InputError(f"unknown setting {key!r}; known: {', '.join(KEYS)}")
    path = path or settings_path()
    if not path.exists():
        return False
    document = _load_document(path)
    if key not in document:
        return False
    del document[key]
    write_text(path, tomlkit.dumps(document).rstrip("\n") + "\n")
    return True


def _load_document(path: Path):
    import tomlkit

    if not path.exists():
        document = tomlkit.document()
        document.add(tomlkit.comment("voiceguide settings: see 'voiceguide config show' "
                                     "and docs/settings.md"))
        return document
    from voiceguide.routine.loader import read_toml

    read_toml(path)  # a TOML syntax error is reported with its line, not edited over
    return tomlkit.parse(path.read_text(encoding="utf-8"))
