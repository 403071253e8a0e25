"""Errors that reach the user as one line and an exit status.

Every error the user can cause or fix is a :class:`VoiceguideError`; the CLI prints
its message on one line and exits with its ``exit_code``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Exit statuses shared by every command.
EXIT_BAD_INPUT = 2
EXIT_NO_DEVICE = 3
EXIT_INTERRUPTED = 130


class VoiceguideError(Exception):
    """A problem the user can understand and act on."""

    exit_code = EXIT_BAD_INPUT


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
