"""Settings: every value that shapes a session, resolved once, typed, with where
each one came from.

:func:`resolve` is the one place values are merged and checked: it returns a frozen
:class:`Settings` (a typed field per key, ``sources`` saying where each came from, and
``pacing`` made from them) that the command line hands down to what prepares and plays
a routine. Precedence, the same for every command (``show``, ``play``, ``export``):
command-line option > routine file > settings file > built-in default. The settings
file is TOML in the per-user config folder; ``voiceguide config`` edits it with
``tomlkit`` so the user's comments and layout stay as they were. Numbers are parsed and
range-checked by :mod:`voiceguide.routine.pacing`'s parser, like every pacing value.
"""

from __future__ import annotations

import contextlib
import errno
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Iterator, Literal, Mapping

from voiceguide import paths
from voiceguide.atomic import write_text
from voiceguide.errors import (FileError, InputError, Problem, StorageError,
                               os_error_message, plain, shown)
from voiceguide.routine.model import Routine
from voiceguide.routine.pacing import (BREATH_SAFE_HOLD, BREATH_SAFE_PHASE, HOLD_LIMITS,
                                       PACE_NAMES, PARSERS, RATE_LIMITS, REPS_LIMITS,
                                       REST_LIMITS, BreathPattern, Pacing, Raw, number,
                                       parse_any_breath, parse_bool, span, within)

SETTINGS_FILE = "settings.toml"
VOLUME_LIMITS = (0, 1)             # volume and cue_volume, a fraction
CHECKIN_TIMEOUT_LIMITS = (1, 120)  # seconds
MAX_VOICE_CHARACTERS = 4096        # a voice id, a name, or a Piper model's path

#: A checked setting's value (``None``: not set, the technique's or engine's own).
Value = float | int | str | bool | BreathPattern | None

_NORMAL = Pacing()   # the pacing defaults, which are the settings' defaults too


def _fraction(raw: Raw) -> float:
    return within(number(raw), VOLUME_LIMITS, given=shown(raw))


def _timeout(raw: Raw) -> float:
    return within(number(raw), CHECKIN_TIMEOUT_LIMITS, unit=" seconds", given=shown(raw))


def _voice(raw: Raw) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError(f"expected a voice id or name, not {shown(raw)}")
    if len(raw.strip()) > MAX_VOICE_CHARACTERS:
        raise ValueError(f"expected a voice id, name or file of at most "
                         f"{MAX_VOICE_CHARACTERS} characters, not {shown(raw)}")
    return raw.strip()


def _listen(raw: Raw) -> str:
    text = str(raw).strip().lower()
    if text == "auto":
        return "auto"
    return "on" if parse_bool(raw) else "off"


def _intro(raw: Raw) -> str:
    text = str(raw).strip().lower()
    if text not in ("first", "always", "never"):
        raise ValueError(f"must be first, always or never, not {shown(raw)}")
    return text


@dataclass(frozen=True)
class Settings:
    """Every effective setting, typed; ``sources`` says where each came from
    (``default``, ``settings file``, ``routine file`` or ``command line``).

    Made by :func:`resolve`; the defaults here are the built-in ones.
    """

    pace: float = _NORMAL.pace
    hold: float | None = None       # None: each technique's own
    reps: int | None = None         # None: each technique's own
    breath: BreathPattern = _NORMAL.breath
    rate: int = _NORMAL.rate
    rest: float | None = None       # None: 5 s scaled by pace
    voice: str | None = None        # None: the engine's default voice
    volume: float = 1.0
    cue_volume: float = 1.0
    checkin_timeout: float = 8.0
    listen: Literal["auto", "on", "off"] = "auto"
    barge_in: bool = True
    countdown: bool = _NORMAL.countdown
    voice_guidance: Literal["full", "cues-only"] = _NORMAL.voice_guidance
    intro: Literal["first", "always", "never"] = "first"
    sources: Mapping[str, str] = field(default_factory=lambda: MappingProxyType(
        {key: "default" for key in KEYS}), hash=False)

    @property
    def pacing(self) -> Pacing:
        """The pacing these settings make (unset holds, reps and rest left to the routine)."""
        return Pacing(**{k: getattr(self, k) for k in PACING_FIELDS
                         if getattr(self, k) is not None})

    def value(self, key: str) -> Value:
        """The value of the setting named ``key``, for listing them by name."""
        if key not in KEYS:
            raise KeyError(key)
        return getattr(self, key)


@dataclass(frozen=True)
class Key:
    """One setting: how to check it, what is allowed, what it does (its default is
    :class:`Settings`'s)."""

    name: str
    parse: Callable[[Raw], Value]
    allowed: str
    help: str
    #: The command line's check when it is wider: the value may go beyond the safe
    #: limits, for :mod:`voiceguide.session.prepare` to allow with --beyond-doses.
    on_line: Callable[[Raw], Value] | None = None


KEYS: dict[str, Key] = {k.name: k for k in [
    Key("pace", PARSERS["pace"], "slow, normal, fast, or a factor 0.5-2.0",
        "Scales holds, rests and breaths (bigger is slower)."),
    Key("hold", PARSERS["hold"], f"{span(HOLD_LIMITS)} (seconds)",
        "Seconds for every timed hold."),
    Key("reps", PARSERS["reps"], span(REPS_LIMITS),
        "Rounds of breath-paced and repeated exercises."),
    Key("breath", PARSERS["breath"], f"4-6, 4-2-6 or 4-2-6-0 style: in and out "
        f"{BREATH_SAFE_PHASE}-12 s, holds 0-{BREATH_SAFE_HOLD} s",
        "Breath pattern: inhale, (hold,) exhale, (hold).", on_line=parse_any_breath),
    Key("rate", PARSERS["rate"], f"{span(RATE_LIMITS)} (words per minute)", "Speech rate."),
    Key("rest", PARSERS["rest"], f"{span(REST_LIMITS)} (seconds)",
        "Quiet between exercises (default: 5 s scaled by pace)."),
    Key("voice", _voice, "a voice id, part of its name, or a Piper .onnx file "
        "(voiceguide voices)",
        "The speaking voice (default: the engine's)."),
    Key("volume", _fraction, span(VOLUME_LIMITS), "Loudness of everything."),
    Key("cue_volume", _fraction, span(VOLUME_LIMITS),
        "Loudness of chimes and tones, on top of volume."),
    Key("checkin_timeout", _timeout, f"{span(CHECKIN_TIMEOUT_LIMITS)} (seconds)",
        "How long a check-in waits for an answer."),
    Key("listen", _listen, "auto, on, off",
        "Answer check-ins by voice (auto: when a microphone exists)."),
    Key("barge_in", parse_bool, "on, off",
        "Hear stop while the guide speaks (echo cancellation; off: only in its pauses)."),
    Key("countdown", PARSERS["countdown"], "on, off",
        "A spoken 3-2-1 at the end of holds."),
    Key("voice_guidance", PARSERS["voice_guidance"], "full, cues-only",
        "cues-only: chimes and breath tones, with safety words and check-ins only."),
    Key("intro", _intro, "first, always, never",
        "The not-medical-advice notice: on the first run only, every time, or never."),
]}

PACING_FIELDS = ("pace", "hold", "reps", "breath", "rate", "rest", "countdown",
                 "voice_guidance")
DEFAULTS = Settings()


def settings_path() -> Path:
    """Where the settings file lives."""
    return paths.config_dir() / SETTINGS_FILE


def parse(key: str, raw: Raw, on_line: bool = False) -> Value:
    """Check one raw value; ``ValueError`` naming the allowed values if bad, or the
    first control character or bidirectional control it holds (text that could
    rewrite the terminal, or read differently from what it is). ``on_line``: as the
    command line checks it (:attr:`Key.on_line`)."""
    spec = KEYS[key]
    if isinstance(raw, str):
        plain(raw)
    check = spec.on_line if on_line and spec.on_line else spec.parse
    try:
        return check(raw)
    except ValueError as err:
        raise ValueError(f"{err} (allowed: {spec.allowed})") from None


def read_file(path: Path | None = None) -> dict[str, Value]:
    """The checked values of the settings file (empty when there is none).

    An unknown key or a bad value raises :class:`FileError` naming the file, the
    line, the key and the allowed values.
    """
    from voiceguide.routine.tomlfile import key_line, read_toml

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


def resolve(line: Mapping[str, Raw | None] | None = None, routine: Routine | None = None,
            file_values: Mapping[str, Value] | None = None) -> Settings:
    """Merge the four layers into one :class:`Settings`.

    ``line`` holds the command-line values of settings, raw as typed (``None``: not
    given); a bad one raises :class:`InputError` naming the option, a name that is not
    a setting raises ``KeyError``. ``file_values`` defaults to the settings file's,
    which is read here (a bad file raises :class:`FileError`).
    """
    if file_values is None:
        file_values = read_file()
    values: dict[str, Value] = {}
    sources = dict(DEFAULTS.sources)
    layers = [("settings file", file_values),
              ("routine file", routine.pacing if routine is not None else {})]
    for name, layer in layers:
        for key, value in layer.items():
            if key in KEYS and value is not None:
                values[key], sources[key] = value, name
    for key, raw in (line or {}).items():
        if key not in KEYS:
            raise KeyError(f"not a setting: {shown(key)}")
        if raw is not None:
            values[key], sources[key] = _from_line(key, raw), "command line"
    return Settings(**values, sources=MappingProxyType(sources))


def _from_line(key: str, raw: Raw) -> Value:
    try:
        return parse(key, raw, on_line=True)
    except ValueError as err:
        raise InputError(f"--{key.replace('_', '-')}: {err}") from None


def doc_row(key: str) -> str:
    """The row of ``key`` in the reference table of docs/settings.md."""
    spec = KEYS[key]
    default = "(engine's)" if key == "voice" else display(key, DEFAULTS.value(key))
    if key in ("hold", "reps"):
        default = "(each technique's)"
    elif key == "rest":
        default = "5 × pace"
    return f"| `{key}` | {default} | {spec.allowed} | {spec.help} |"


def display(key: str, value: Value) -> str:
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

def _toml_value(key: str, raw: str) -> bool | int | float | str:
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
    """Set ``key`` in the settings file, keeping its comments and layout; a settings
    file that is a symbolic link is written through, and stays a link. A file that
    cannot be written (any ``OSError``) is a :class:`StorageError` naming it and the
    cause; one that cannot be parsed a :class:`FileError`, as for :func:`read_file`."""
    _known(key)
    try:
        value = _toml_value(key, raw)
    except ValueError as err:
        raise InputError(f"{key}: {err}") from None
    path = path or settings_path()
    with _editing(path):
        document = _load_document(path)
        document[key] = value
        _save(path, document)
    return path


def unset_value(key: str, path: Path | None = None) -> bool:
    """Remove ``key`` from the settings file; False if it was not set. Errors as
    :func:`set_value`'s."""
    _known(key)
    path = path or settings_path()
    with _editing(path):
        if not path.exists():
            return False
        document = _load_document(path)
        if key not in document:
            return False
        del document[key]
        _save(path, document)
    return True


def _known(key: str) -> None:
    if key not in KEYS:
        raise InputError(f"unknown setting {shown(key)}; known: {', '.join(KEYS)}")


@contextlib.contextmanager
def _editing(path: Path) -> Iterator[None]:
    """Any ``OSError`` in the block (disk full, permission denied, read-only, a folder
    in the file's place) becomes one :class:`StorageError` naming ``path``."""
    try:
        yield
    except OSError as err:
        raise StorageError(os_error_message(err, f"cannot write the settings file {path}")
                           ) from None


def _load_document(path: Path):
    """The settings file as a tomlkit document (a new one when there is none); a TOML
    syntax error is a :class:`FileError` with its line, never edited over, and a
    folder in the file's place an ``IsADirectoryError``."""
    import tomlkit

    from voiceguide.routine.tomlfile import read_toml

    if not path.exists():
        document = tomlkit.document()
        document.add(tomlkit.comment("voiceguide settings: see 'voiceguide config show' "
                                     "and docs/settings.md"))
        return document
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    _, text = read_toml(path)
    return tomlkit.parse(text)


def _save(path: Path, document) -> None:
    import tomlkit

    write_text(path, tomlkit.dumps(document).rstrip("\n") + "\n")
