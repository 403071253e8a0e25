"""The user's own routines: new ones written from a template, and checking files.

:func:`create` writes a commented routine file into the user's routines folder;
:func:`check` and :func:`problems` check any routine or technique file against the
:mod:`~voiceguide.catalog` (its techniques, phrases and positions).
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from voiceguide import catalog, paths
from voiceguide.atomic import write_text
from voiceguide.errors import InputError, Problem, shown
from voiceguide.routine.loader import NAME_PATTERN, load_technique_file
from voiceguide.routine.model import Breath, Exercise, Flow, Hold, Routine
from voiceguide.routine.tomlfile import read_toml
from voiceguide.timing.fitting import routine_minutes

#: A new routine without --from: a gentle floor start.
STARTER = ("pelvic-tilt", "knee-to-chest", "childs-pose")
#: The longest routine name (a file name has room for 255 bytes).
MAX_NAME_CHARACTERS = 64


def check_name(name: str) -> str:
    """A routine name is a plain identifier of at most :data:`MAX_NAME_CHARACTERS`:
    no path separator, no ``..``."""
    if not NAME_PATTERN.match(name) or ".." in name or len(name) > MAX_NAME_CHARACTERS:
        raise InputError(f"{shown(name)} is not a plain name: use at most "
                         f"{MAX_NAME_CHARACTERS} lowercase letters, digits, '-' and '_' "
                         f"(like 'mine' or 'slow-evening')")
    return name


def create(name: str, source: str | None = None, force: bool = False,
           library: catalog.Library | None = None) -> Path:
    """Write ``routines/NAME.toml`` in the user's folder, commented, ready to play."""
    library = library or catalog.load_library()
    check_name(name)
    if name in library.builtin_routines:
        raise InputError(f"'{name}' is the name of a built-in routine; choose another name")
    path = paths.routines_dir() / f"{name}.toml"
    if path.exists() and not force:
        raise InputError(f"{path} already exists; edit it, or use --force to replace it")
    routine = library.routine(source) if source else _starter(library)
    text = routine_text(name, routine, library, source)
    write_text(path, text)
    return path


def _starter(library: catalog.Library) -> Routine:
    exercises = tuple(Exercise(library.techniques[t]) for t in STARTER)
    return Routine("starter", "My routine", exercises,
                   "A gentle start on the floor: pelvic tilts, knee to chest, child's pose.")


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


def _dose(movement) -> str:
    if isinstance(movement, Hold):
        sides = ", each side" if movement.sides else ""
        return f"hold {movement.range[0]:g}-{movement.range[1]:g} s{sides}"
    if isinstance(movement, Flow):
        return f"moving {movement.range[0]:g}-{movement.range[1]:g} s"
    what = "breaths" if isinstance(movement, Breath) else "rounds"
    return f"{movement.range[0]}-{movement.range[1]} {what}"


def routine_text(name: str, routine: Routine, library: catalog.Library,
                 source: str | None = None) -> str:
    """The commented TOML of a routine, as ``new`` writes it."""
    made_from = f"\n# Made from the routine '{source}'." if source else ""
    title = routine.title if not source else f"{routine.title} (mine)"
    lines = [
        f"# {name}: your own voiceguide routine.{made_from}",
        f"# Play it:    voiceguide play {name}",
        f"# Check it:   voiceguide check {paths.routines_dir() / (name + '.toml')}",
        "# Techniques: voiceguide list. Every key: docs/format.md in the voiceguide sources.",
        "# Keep every stretch gentle: stop if it hurts.",
        "",
        f"title = {_value(title)}",
        f"description = {_value(routine.description or 'My own routine.')}",
        "",
        "# Pacing for this routine; the command line still wins. Remove a # to use a line.",
        "[pacing]",
    ]
    hints = {"pace": '"normal"      # slow, normal, fast, or a factor 0.5-2.0',
             "breath": '"4-6"       # inhale and exhale seconds, or 4-2-6-0 with holds',
             "rest": "5             # seconds of quiet between exercises"}
    for key, value in routine.pacing.items():
        lines.append(f"{key} = {_value(str(value) if key == 'breath' else value)}")
    for key, hint in hints.items():
        if key not in routine.pacing:
            lines.append(f"# {key} = {hint}")
    for index, exercise in enumerate(routine.exercises):
        lines += _exercise_lines(exercise, first=index == 0)
    return "\n".join(lines) + "\n"


def _exercise_lines(exercise: Exercise, first: bool) -> list[str]:
    """An ``[[exercise]]`` table: the technique with its dose as a comment, the
    exercise's own values, and (in the first) how to skip one."""
    technique = exercise.technique
    lines = ["", "[[exercise]]",
             f"technique = {_value(technique.id)}   # {technique.title}: "
             f"{_dose(technique.movement)}"]
    for key in ("hold", "reps", "sides", "skip"):
        value = getattr(exercise, key)
        if value not in (None, False) or (key == "sides" and value is False):
            lines.append(f"{key} = {_value(value)}")
    if first:
        lines.append("# skip = true           # leave an exercise out without deleting it")
    return lines


def open_in_editor(path: Path) -> bool:
    """Open ``path`` in ``$VISUAL`` or ``$EDITOR`` when one is set; True if it ran."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not editor:
        return False
    try:
        subprocess.call(shlex.split(editor) + [str(path)])
    except OSError as err:
        raise InputError(f"cannot start the editor {shown(editor)}: {err.strerror}") from None
    return True


def problems(path: Path) -> list[Problem]:
    """Every problem in a routine or technique file."""
    return catalog.check_file(path, catalog.load_library())


def check(path: Path) -> tuple[str, list[Problem]]:
    """A one-line summary of a good file, or every problem in a bad one."""
    library = catalog.load_library()
    found = catalog.check_file(path, library)
    if found:
        return "", found
    data, _ = read_toml(path)
    if "movement" in data:
        technique = load_technique_file(path)
        return (f"{path}: OK, technique '{technique.id}' ({technique.title}, "
                f"{_dose(technique.movement)})"), []
    routine = catalog.load_routine_file(path, library)
    timeline = catalog.estimated_timeline(routine, library)
    count = len(routine.active_exercises)
    note = ""
    if path.stem in library.builtin_routines and path.parent == paths.routines_dir():
        note = f"; but a built-in routine is named '{path.stem}': rename the file to play it"
    return (f"{path}: OK, routine '{routine.title}', {count} exercise"
            f"{'s' if count != 1 else ''}, about {routine_minutes(timeline):g} minutes{note}"), []
