"""The catalog: finding and loading the built-in and the user's files.

:func:`load_library` gives a :class:`Library`: every technique (built-in and the
user's own), where every routine file is, and the one load of the phrases and the
positions that everything compiled from it uses. A routine is loaded and checked by
:func:`load_routine_file` (or :meth:`Library.routine` by name), which adds to the
loader's checks the routine-length check: a routine over :data:`MAX_ROUTINE_SECONDS`
at normal pace is a :class:`~voiceguide.errors.Problem` of its file. The catalog sits
above the loader and the compiler; neither imports it.
"""

from __future__ import annotations

import datetime
import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path

from voiceguide import paths
from voiceguide.errors import FileError, InputError, Problem, StorageError, shown
from voiceguide.routine.loader import (load_phrases_file, load_positions_file,
                                       load_technique_file, parse_routine, parse_technique)
from voiceguide.routine.model import Phrases, Positions, Routine, Technique
from voiceguide.routine.pacing import Pacing
from voiceguide.routine.tomlfile import Lines, read_toml
from voiceguide.timing.compiler import compile_routine, estimated_speech
from voiceguide.timing.timeline import Timeline

BUILTIN_DIR = Path(__file__).resolve().parent / "library"
#: The longest routine, at normal pace.
MAX_ROUTINE_SECONDS = 4 * 3600


def load_phrases(day: datetime.date | None = None) -> Phrases:
    """The built-in phrases, with the variants of ``day`` (default: the session's)."""
    return load_phrases_file(BUILTIN_DIR / "phrases.toml", day)


def load_positions() -> Positions:
    """The built-in positions and the moves between them."""
    return load_positions_file(BUILTIN_DIR / "positions.toml")


@dataclass
class Library:
    """Every technique and routine that can be used, built-in and the user's own,
    with the phrases and positions they are compiled with."""

    techniques: dict[str, Technique]
    routines: dict[str, Path]
    builtin_routines: frozenset[str]
    phrases: Phrases
    positions: Positions
    broken: dict[str, FileError] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: Why the user's routines folder could not be read (None: it could, or is absent).
    unreadable_routines: str | None = None

    def routine(self, name_or_path: str) -> Routine:
        """Load a routine by name, or from a path to a ``.toml`` file.

        An unknown name is an :class:`InputError`, or a :class:`StorageError` saying
        why when the user's routines folder, where it might be, cannot be read.
        """
        path = Path(name_or_path)
        if name_or_path.endswith(".toml") or "/" in name_or_path or _is_file(path):
            return load_routine_file(paths.expand_home(path), self)
        if name_or_path not in self.routines and self.unreadable_routines:
            raise StorageError(f"no built-in routine {shown(name_or_path)}, and "
                               f"{self.unreadable_routines}")
        if name_or_path not in self.routines:
            close = difflib.get_close_matches(name_or_path, list(self.routines), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise InputError(f"unknown routine {shown(name_or_path)}{hint} "
                             f"(see 'voiceguide list')")
        return load_routine_file(self.routines[name_or_path], self)


def _is_file(path: Path) -> bool:
    """Whether ``path`` is a file; False for what cannot be one (a name too long)."""
    try:
        return path.is_file()
    except OSError:
        return False


def load_library(user_dir: Path | None = None) -> Library:
    """The built-in library plus the user's own files from ``user_dir``.

    ``user_dir`` defaults to the per-user config folder; it holds ``routines/`` and
    ``techniques/``. A user file that takes a built-in's name is refused with a
    warning instead of silently replacing the built-in; a user folder that cannot be
    read is a warning naming it and the cause.
    """
    user_dir = paths.config_dir() if user_dir is None else user_dir
    warnings: list[str] = []
    techniques, broken = _techniques(user_dir / "techniques", warnings)
    routines = {p.stem: p for p in _toml_files(BUILTIN_DIR / "routines")}
    builtin = frozenset(routines)
    found, unreadable = _user_files(user_dir / "routines", "routines", warnings)
    routines.update(_user_routines(found, builtin, warnings))
    return Library(techniques, routines, builtin, load_phrases(), load_positions(), broken,
                   warnings, unreadable)


def _toml_files(folder: Path) -> list[Path]:
    """The ``.toml`` files in ``folder``, sorted; none when there is no such folder,
    ``OSError`` when it cannot be read (permission denied, not a folder)."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    return sorted(folder / name for name in names if name.endswith(".toml"))


def _user_files(folder: Path, what: str, warnings: list[str]
                ) -> tuple[list[Path], str | None]:
    """The user's ``.toml`` files in ``folder``, and why it cannot be read (also added
    to ``warnings``), if it cannot."""
    try:
        return _toml_files(folder), None
    except OSError as err:
        why = f"your {what} folder {folder} cannot be read: {err.strerror or err}"
        warnings.append(f"{why}; only the built-in {what} are used")
        return [], why


def _techniques(user_folder: Path, warnings: list[str]
                ) -> tuple[dict[str, Technique], dict[str, FileError]]:
    """The built-in techniques and the user's good ones; the user's broken ones."""
    techniques: dict[str, Technique] = {}
    broken: dict[str, FileError] = {}
    for path in _toml_files(BUILTIN_DIR / "techniques"):
        techniques[path.stem] = load_technique_file(path)
    for path in _user_files(user_folder, "techniques", warnings)[0]:
        if path.stem in techniques:
            warnings.append(f"{path}: ignored, a built-in technique is already named "
                            f"{path.stem!r}; rename the file")
            continue
        try:
            techniques[path.stem] = load_technique_file(path)
        except (FileError, InputError) as err:
            broken[path.stem] = err
            warnings.append(str(err))
    return techniques, broken


def _user_routines(files: list[Path], builtin: frozenset[str], warnings: list[str]
                   ) -> dict[str, Path]:
    """The user's routine ``files`` that can be listed and do not take a built-in name."""
    routines = {}
    for path in files:
        if not path.is_file():  # a dangling link, a folder, a FIFO: nothing to list
            warnings.append(f"{path}: ignored, not a readable file")
            continue
        if path.stem in builtin:
            warnings.append(f"{path}: ignored, a built-in routine is already named "
                            f"{path.stem!r}; rename the file")
            continue
        routines[path.stem] = path
    return routines


def load_routine_file(path: Path, library: Library) -> Routine:
    """Load one routine file; every problem in it is raised at once."""
    data, text = read_toml(path)
    problems: list[Problem] = []
    routine = _checked_routine(path, data, text, library, problems)
    if problems:
        raise FileError(problems)
    return routine


def check_file(path: Path, library: Library) -> list[Problem]:
    """Every problem in a routine or technique file (empty when it is fine).

    A file with a ``[movement]`` table is a technique; anything else a routine.
    """
    try:
        data, text = read_toml(path)
    except FileError as err:
        return err.problems
    problems: list[Problem] = []
    if "movement" in data:
        parse_technique(path, data, text, problems)
    else:
        _checked_routine(path, data, text, library, problems)
    return problems


def _checked_routine(path: Path, data: dict, text: str, library: Library,
                     problems: list[Problem]) -> Routine | None:
    """The routine the loader parses, unless it has problems or is too long (a
    problem on its first ``[[exercise]]``)."""
    routine = parse_routine(path, data, text, library.techniques, problems, library.broken)
    if routine is None:
        return None
    too_long = _too_long(routine, library)
    if too_long:
        problems.append(Problem(too_long, path, Lines(text).of("exercise", 0), "exercise"))
        return None
    return routine


def estimated_timeline(routine: Routine, library: Library) -> Timeline:
    """``routine`` at normal pace, compiled with estimated speech and the library's
    phrases and positions (its length before any clip exists)."""
    pacing = Pacing()
    return compile_routine(routine, pacing, estimated_speech(pacing.rate), library.phrases,
                           library.positions)


def _too_long(routine: Routine, library: Library) -> str | None:
    """Why ``routine`` is too long (over :data:`MAX_ROUTINE_SECONDS` at normal pace,
    compiled with estimated speech)."""
    total = estimated_timeline(routine, library).total_seconds
    if total > MAX_ROUTINE_SECONDS:
        return (f"the routine lasts about {total / 3600:.1f} hours; "
                f"{MAX_ROUTINE_SECONDS // 3600} hours is the most allowed")
    return None
