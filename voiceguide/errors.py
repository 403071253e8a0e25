"""Errors that reach the user as one line and an exit status.

Every error the user can cause or fix is a :class:`VoiceguideError`; the CLI prints
its message on one line and exits with its ``exit_code``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from voiceguide.signals import EXIT_INTERRUPTED, Terminated  # noqa: F401  (re-exported)

#: Exit statuses shared by every command.
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_NO_DEVICE = 3


class VoiceguideError(Exception):
    """A problem the user can understand and act on."""

    exit_code = EXIT_BAD_INPUT


#: The bidirectional controls (embeddings, overrides, isolates, marks): text holding
#: them can show on screen in another order than it is stored.
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                          "\u2066\u2067\u2068\u2069")


def safe_line(text: str) -> str:
    """``text`` made safe to print on a terminal or write into a chapter: control
    characters (escape sequences, NUL, line breaks) and bidirectional controls
    become spaces."""
    import unicodedata

    return "".join(" " if unicodedata.category(c) == "Cc" or c in BIDI_CONTROLS else c
                   for c in str(text))


def plain(text: str, allowed: str = "") -> str:
    """``text`` if it holds no control character (escape sequences, NUL, line breaks;
    those in ``allowed`` excepted) and no bidirectional control, else ``ValueError``
    naming the first one and where it is."""
    import unicodedata

    for number, char in enumerate(text):
        if (unicodedata.category(char) == "Cc" and char not in allowed) or \
                char in BIDI_CONTROLS:
            raise ValueError(f"control character U+{ord(char):04X} at character "
                             f"{number + 1}; remove it")
    return text


#: The most characters of a value an error message echoes.
SHOWN_CHARACTERS = 60


def shown(value) -> str:
    """``value`` as an error message echoes it: its ``repr``, or for a long one its
    first :data:`SHOWN_CHARACTERS` characters, "…" and its length in characters
    (a 20,000-character value stays one short line)."""
    if isinstance(value, str):
        if len(value) <= SHOWN_CHARACTERS:
            return repr(value)
        start = repr(value[:SHOWN_CHARACTERS])
        return f"{start[:-1]}…{start[-1]} ({len(value):,} characters)"
    text = repr(value)
    if len(text) <= SHOWN_CHARACTERS:
        return text
    return f"{text[:SHOWN_CHARACTERS]}… ({len(text):,} characters)"


class StorageError(VoiceguideError):
    """A file or folder could not be read or written (disk full, permission denied,
    read-only, locked...): the message names the path and the cause."""

    exit_code = EXIT_FAILED


def os_error_message(err: OSError, path=None) -> str:
    """One line for an :class:`OSError`: the path, then the cause in plain words."""
    where = path if path is not None else (err.filename or "")
    cause = err.strerror or str(err) or type(err).__name__
    return f"{where}: {cause}" if where else cause


class InputError(VoiceguideError):
    """Bad input: an option value, a name, a file's content."""


@dataclass
class Problem:
    """One problem found in a file, with where it is."""

    message: str
    path: Path | str | None = None
    line: int | None = None
    key: str | None = None

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = str(self.path)
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        key = f"{self.key}: " if self.key else ""
        return f"{where}{key}{self.message}"


class FileError(InputError):
    """One or more problems in a routine, technique or settings file."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(str(problems[0]) if len(problems) == 1 else
                         f"{problems[0]} (and {len(problems) - 1} more problem(s))")


class DeviceError(VoiceguideError):
    """No usable audio device, or no speech engine."""

    exit_code = EXIT_NO_DEVICE
