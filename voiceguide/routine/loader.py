"""Loader: routine, technique, phrase and position files → checked model objects.

Parsing only: each function takes a file (or its parsed data and text) and returns
model objects; it neither finds files nor compiles. Every problem found names the
file, the line and the key: the ``parse_*`` functions add every problem of a file to
a list, the ``load_*_file`` functions raise :class:`~voiceguide.errors.FileError`
with all of them. Finding the built-in and user files, and the check that a routine
is not too long, are :mod:`voiceguide.catalog`'s.
"""

from __future__ import annotations

import datetime
import difflib
import os
import re
import string
import zlib
from pathlib import Path

from voiceguide.errors import FileError, InputError, Problem, shown
from voiceguide.routine.model import (DEFAULT_PRIORITY, EQUIPMENT, POSITIONS, Breath, Cycle,
                                      Exercise, Flow, Hold, Move, Phrases, Position, Positions,
                                      Kept, Routine, Step, Technique)
from voiceguide.routine.pacing import PARSERS
from voiceguide.routine.tomlfile import Checker, Kind, convert, read_toml

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
ROUTINE_PACING_KEYS = ("pace", "hold", "reps", "breath", "rate", "rest")
#: Fields a spoken format string may use, per key.
FORMAT_FIELDS = {"on_side": ("side",)}


# ---------------------------------------------------------------------- techniques

TECHNIQUE_KEYS = ("title", "position", "setup", "release", "safety", "source", "settle",
                  "form", "needs", "kept", "movement")
MOVEMENT_KEYS = {
    "hold": ("kind", "seconds", "range", "sides", "on_side", "reps", "reps_range",
             "reminders"),
    "breath": ("kind", "rounds", "range", "inhale", "exhale"),
    "flow": ("kind", "seconds", "range", "reminders"),
    "cycle": ("kind", "rounds", "range", "steps"),
}
#: Options of every value of a ``[movement]`` table.
_MOVEMENT = {"table": "movement", "prefix": "movement."}


def load_technique_file(path: Path) -> Technique:
    """Load one technique file; every problem in it is raised at once."""
    data, text = read_toml(path)
    problems: list[Problem] = []
    technique = parse_technique(path, data, text, problems)
    if problems:
        raise FileError(problems)
    return technique


def parse_technique(path: Path, data: dict, text: str, problems: list[Problem]) -> Technique | None:
    """Build a technique from parsed TOML, adding every problem to ``problems``."""
    check = Checker(path, text)
    technique_id = path.stem
    if not NAME_PATTERN.match(technique_id):
        check.problem("a technique file name must be lowercase letters, digits and dashes")
    check.unknown_keys(data, TECHNIQUE_KEYS)
    title = check.value(data, "title", Kind.NAME, required=True)
    setup = check.value(data, "setup", Kind.LINES, required=True)
    release = check.value(data, "release", Kind.LINES, default=())
    safety = check.value(data, "safety", Kind.LINES, default=())
    source = check.value(data, "source", Kind.TEXT, default="")
    settle = check.value(data, "settle", Kind.SECONDS, default=3.0)
    form = check.value(data, "form", Kind.NAME, default=None)
    needs = _needs(check, data)
    kept = _kept(check, data, technique_id)
    position = _position(check, data)
    movement = _movement_table(check, data)
    problems.extend(check.problems)
    if check.problems:
        return None
    return Technique(id=technique_id, title=title, setup=setup, movement=movement,
                     position=position, release=release, safety=safety, settle=settle,
                     source=source, path=path, form=form, needs=needs, kept=kept)


def _needs(check: Checker, data: dict) -> tuple[str, ...]:
    needs = check.value(data, "needs", Kind.LINES, default=())
    for thing in needs:
        if thing not in EQUIPMENT:
            check.problem(f"unknown need {shown(thing)}; one of: {', '.join(EQUIPMENT)}", "needs")
    return needs


def _kept(check: Checker, data: dict, technique_id: str) -> Kept | None:
    """The ``[kept]`` table: into (technique ids), say and release (lines), all required."""
    if "kept" not in data:
        return None
    raw = data["kept"]
    if not isinstance(raw, dict):
        check.problem("expected a table [kept]", "kept")
        return None
    check.unknown_keys(raw, ("into", "say", "release"), "kept", prefix="kept.")
    opts = {"table": "kept", "prefix": "kept.", "required": True}
    into = check.value(raw, "into", Kind.LINES, **opts)
    for other in into:
        if not NAME_PATTERN.match(other) or other == technique_id:
            check.problem(f"into names other techniques by id, not {shown(other)}",
                          "kept.into", "kept")
    return Kept(into, check.value(raw, "say", Kind.LINES, **opts),
                check.value(raw, "release", Kind.LINES, **opts))


def _position(check: Checker, data: dict) -> str:
    position = check.value(data, "position", Kind.NAME, default="back")
    if position not in POSITIONS:
        check.problem(f"unknown position {shown(position)}; one of: {', '.join(POSITIONS)}",
                      "position")
    return position


def _movement_table(check: Checker, data: dict):
    if "movement" not in data:
        check.problem("missing required table [movement]", "movement")
        return None
    if not isinstance(data["movement"], dict):
        check.problem("expected a table [movement]", "movement")
        return None
    return _parse_movement(check, data["movement"])


def _parse_movement(check: Checker, data: dict):
    kind = data.get("kind")
    if kind not in MOVEMENT_KEYS:
        check.problem(f"kind must be one of: {', '.join(MOVEMENT_KEYS)}", "movement.kind",
                      "movement")
        return None
    check.unknown_keys(data, MOVEMENT_KEYS[kind], "movement", prefix="movement.")
    return _MOVEMENT_PARSERS[kind](check, data)


def _hold(check: Checker, data: dict) -> Hold:
    movement = Hold(
        seconds=check.value(data, "seconds", Kind.SECONDS, default=20.0, **_MOVEMENT),
        range=check.value(data, "range", Kind.SECONDS_RANGE, default=(10.0, 60.0), **_MOVEMENT),
        sides=check.value(data, "sides", Kind.BOOL, default=False, **_MOVEMENT),
        on_side=check.value(data, "on_side", Kind.TEXT, default=None, **_MOVEMENT),
        reps=check.value(data, "reps", Kind.COUNT, default=1, **_MOVEMENT),
        reps_range=check.value(data, "reps_range", Kind.COUNT_RANGE, default=(1, 5),
                               **_MOVEMENT),
        reminders=check.value(data, "reminders", Kind.LINES, default=(), **_MOVEMENT),
    )
    _check_in_range(check, movement.seconds, movement.range, "movement.seconds")
    _check_in_range(check, movement.reps, movement.reps_range, "movement.reps")
    _check_fields(check, movement.on_side, "movement.on_side")
    return movement


def _flow(check: Checker, data: dict) -> Flow:
    movement = Flow(
        seconds=check.value(data, "seconds", Kind.SECONDS, default=60.0, **_MOVEMENT),
        range=check.value(data, "range", Kind.SECONDS_RANGE, default=(30.0, 600.0),
                          **_MOVEMENT),
        reminders=check.value(data, "reminders", Kind.LINES, default=(), **_MOVEMENT),
    )
    _check_in_range(check, movement.seconds, movement.range, "movement.seconds")
    return movement


def _breath(check: Checker, data: dict) -> Breath:
    movement = Breath(
        rounds=check.value(data, "rounds", Kind.COUNT, default=10, **_MOVEMENT),
        range=check.value(data, "range", Kind.COUNT_RANGE, default=(5, 20), **_MOVEMENT),
        inhale=check.value(data, "inhale", Kind.TEXT, default="Breathe in.", **_MOVEMENT),
        exhale=check.value(data, "exhale", Kind.TEXT, default="Breathe out.", **_MOVEMENT),
    )
    _check_in_range(check, movement.rounds, movement.range, "movement.rounds")
    return movement


def _cycle(check: Checker, data: dict) -> Cycle:
    steps = _parse_steps(check, data)
    movement = Cycle(
        steps=steps,
        rounds=check.value(data, "rounds", Kind.COUNT, default=5, **_MOVEMENT),
        range=check.value(data, "range", Kind.COUNT_RANGE, default=(1, 10), **_MOVEMENT),
    )
    _check_in_range(check, movement.rounds, movement.range, "movement.rounds")
    return movement


_MOVEMENT_PARSERS = {"hold": _hold, "breath": _breath, "flow": _flow, "cycle": _cycle}


def _parse_steps(check: Checker, data: dict) -> tuple[Step, ...]:
    raw = data.get("steps")
    if not isinstance(raw, list) or not raw:
        check.problem("expected a list of steps like { say = \"...\", seconds = 5 }",
                      "movement.steps", "movement")
        return ()
    steps = []
    for number, item in enumerate(raw, start=1):
        key = f"movement.steps[{number}]"
        if not isinstance(item, dict) or set(item) != {"say", "seconds"}:
            check.problem("each step needs exactly say and seconds", key, "movement")
            continue
        try:
            steps.append(Step(convert(item["say"], Kind.TEXT),
                              convert(item["seconds"], Kind.SECONDS)))
        except ValueError as err:
            check.problem(str(err), key, "movement")
    return tuple(steps)


def _check_in_range(check: Checker, value, limits, key: str) -> None:
    if value is not None and limits is not None and not limits[0] <= value <= limits[1]:
        check.problem(f"{value:g} is outside its range [{limits[0]:g}, {limits[1]:g}]", key,
                      "movement")


def _check_fields(check: Checker, text: str | None, key: str) -> None:
    """A spoken format string may only use its own fields (``{side}``)."""
    if text is None:
        return
    allowed = FORMAT_FIELDS[key.split(".")[-1]]
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(text)
                  if name is not None]
    except ValueError as err:
        check.problem(f"bad braces: {err}; write {{{{ and }}}} for a brace", key, "movement")
        return
    for name, spec, conv in fields:
        if name not in allowed or spec or conv:
            check.problem(f"unknown field {{{name}}}; only "
                          f"{', '.join('{' + a + '}' for a in allowed)} is replaced", key,
                          "movement")
            return


# ------------------------------------------------------------------------ routines

ROUTINE_KEYS = ("title", "description", "pacing", "exercise")
EXERCISE_KEYS = ("technique", "hold", "reps", "sides", "skip", "priority")


def parse_routine(path: Path, data: dict, text: str, techniques: dict[str, Technique],
                  problems: list[Problem], broken: dict[str, FileError] | None = None
                  ) -> Routine | None:
    """Build a routine from parsed TOML against known techniques, adding every
    problem to ``problems`` (``broken``: techniques whose files have problems).

    Its length is not checked here (see :func:`voiceguide.catalog.load_routine_file`).
    """
    check = Checker(path, text)
    check.unknown_keys(data, ROUTINE_KEYS)
    title = check.value(data, "title", Kind.NAME, required=True)
    description = check.value(data, "description", Kind.TEXT, default="")
    pacing = _parse_routine_pacing(check, data.get("pacing", {}))
    exercises = _parse_exercises(check, data, techniques, broken or {})
    problems.extend(check.problems)
    if check.problems:
        return None
    return Routine(name=path.stem, title=title, exercises=tuple(exercises),
                   description=description, pacing=pacing, path=path)


def _parse_routine_pacing(check: Checker, raw) -> dict:
    if not isinstance(raw, dict):
        check.problem("expected a table [pacing]", "pacing")
        return {}
    check.unknown_keys(raw, ROUTINE_PACING_KEYS, "pacing", prefix="pacing.")
    pacing = {}
    for key in ROUTINE_PACING_KEYS:
        if key in raw:
            try:
                pacing[key] = PARSERS[key](raw[key])
            except ValueError as err:
                check.problem(str(err), f"pacing.{key}", "pacing")
    return pacing


def _parse_exercises(check: Checker, data: dict, techniques: dict[str, Technique],
                     broken: dict[str, FileError]) -> list[Exercise]:
    raw_exercises = data.get("exercise")
    if not isinstance(raw_exercises, list) or not raw_exercises:
        check.problem("a routine needs at least one [[exercise]] with a technique",
                      "exercise")
        raw_exercises = []
    exercises = []
    for index, item in enumerate(raw_exercises):
        exercise = _parse_exercise(check, item, index, techniques, broken)
        if exercise is not None:
            exercises.append(exercise)
    if raw_exercises and exercises and not any(not e.skip for e in exercises):
        check.problem("every exercise is skipped; leave at least one", "exercise")
    _check_protection(check, exercises)
    return exercises


def _check_protection(check: Checker, exercises: list[Exercise]) -> None:
    """A technique that protects another comes before it when a routine has both."""
    for index, exercise in enumerate(exercises):
        protects = exercise.technique.protects
        earlier = {e.technique.id for e in exercises[:index]}
        for other in exercises[:index]:
            if other.technique.id in protects and exercise.technique.id not in earlier:
                check.problem(f"{exercise.technique.id} protects {other.technique.id}, so it "
                              "comes before it", f"exercise[{index + 1}].technique",
                              "exercise", index)
                break


def _parse_exercise(check: Checker, item, index: int, techniques: dict[str, Technique],
                    broken: dict[str, FileError]) -> Exercise | None:
    table = "exercise"
    prefix = f"exercise[{index + 1}]."
    opts = {"table": table, "index": index, "prefix": prefix}
    if not isinstance(item, dict):
        check.problem("expected a table", prefix.rstrip("."), table, index)
        return None
    check.unknown_keys(item, EXERCISE_KEYS, table, index, prefix)
    technique_id = check.value(item, "technique", Kind.NAME, required=True, **opts)
    hold = check.value(item, "hold", Kind.SECONDS, **opts)
    reps = check.value(item, "reps", Kind.COUNT, **opts)
    sides = check.value(item, "sides", Kind.BOOL, **opts)
    skip = check.value(item, "skip", Kind.BOOL, default=False, **opts)
    priority = check.value(item, "priority", Kind.COUNT, default=DEFAULT_PRIORITY, **opts)
    if not 1 <= priority <= 9:
        check.problem(f"priority must be 1 (kept longest) to 9 (left out first), not {priority}",
                      prefix + "priority", table, index)
    if technique_id is None:
        return None
    technique = _technique(check, technique_id, index, techniques, broken)
    if technique is None:
        return None
    _check_dose(check, technique, hold, reps, index)
    return Exercise(technique=technique, hold=hold, reps=reps, sides=sides, skip=skip,
                    priority=priority)


def _technique(check: Checker, technique_id: str, index: int,
               techniques: dict[str, Technique], broken: dict[str, FileError]
               ) -> Technique | None:
    """The technique an exercise names; a problem when it is unknown or broken."""
    technique = techniques.get(technique_id)
    if technique is not None:
        return technique
    key = f"exercise[{index + 1}].technique"
    if technique_id in broken:
        check.problem(f"technique {shown(technique_id)} has problems: {broken[technique_id]}",
                      key, "exercise", index)
        return None
    close = difflib.get_close_matches(technique_id, list(techniques), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    check.problem(f"unknown technique {shown(technique_id)}{hint}", key, "exercise", index)
    return None


def _check_dose(check: Checker, technique: Technique, hold, reps, index: int) -> None:
    """An exercise's own hold and reps must be within its technique's safe range."""
    prefix = f"exercise[{index + 1}]."
    movement = technique.movement
    if hold is not None and isinstance(movement, (Hold, Flow)):
        low, high = movement.range
        if not low <= hold <= high:
            check.problem(f"hold {hold:g} is outside the safe range [{low:g}, {high:g}] for "
                          f"{technique.id}", prefix + "hold", "exercise", index)
    if reps is not None:
        low, high = movement.reps_range if isinstance(movement, Hold) else movement.range
        if not isinstance(movement, Flow) and not low <= reps <= high:
            check.problem(f"reps {reps} is outside the safe range [{low}, {high}] for "
                          f"{technique.id}", prefix + "reps", "exercise", index)


# ------------------------------------------------------------------------- phrases

#: Phrases heard every session: each is a list of 2-4 variants in phrases.toml.
VARIANT_KEYS = ("opening", "checkin_intro", "closing", "checkin_question", "stop_message")
#: Variants chosen together: the one of the same number as their partner's.
PAIRED = {"checkin_intro": "opening"}
ACKNOWLEDGE_KEYS = ("good", "same", "none", "pain")


def session_day() -> datetime.date:
    """The session's date, which picks the phrase variants; ``VOICEGUIDE_DATE``
    (``YYYY-MM-DD``) overrides it, so tests and recordings are repeatable."""
    raw = os.environ.get("VOICEGUIDE_DATE")
    if raw:
        try:
            return datetime.date.fromisoformat(raw)
        except ValueError:
            raise InputError(f"VOICEGUIDE_DATE: expected YYYY-MM-DD, not {shown(raw)}") from None
    return datetime.date.today()


def choose_variant(variants: tuple, key: str, day: datetime.date):
    """One of ``variants``, the same all day and for every command (stable hash)."""
    return variants[zlib.crc32(f"{day.isoformat()}:{key}".encode()) % len(variants)]


def load_phrases_file(path: Path, day: datetime.date | None = None) -> Phrases:
    """The words said around the exercises (a ``phrases.toml``), with the variants of
    ``day`` (default: :func:`session_day`)."""
    data, text = read_toml(path)
    check = Checker(path, text)
    names = [f for f in Phrases.__dataclass_fields__ if f != "variants"]
    check.unknown_keys(data, tuple(names))
    values, variants = {}, {}
    for name in names:
        if name == "acknowledge":
            values[name] = _acknowledgements(check, data)
        elif name in VARIANT_KEYS:
            variants[name] = _variants(check, data, name)
        else:
            kind = Kind.LINES if isinstance(data.get(name), list) else Kind.TEXT
            values[name] = check.value(data, name, kind, required=True)
    for name, partner in PAIRED.items():
        if len(variants[name]) != len(variants[partner]):
            check.problem(f"expected as many variants as {partner}", name)
    if check.problems:
        raise FileError(check.problems)
    day = day or session_day()
    values.update({k: choose_variant(v, PAIRED.get(k, k), day) for k, v in variants.items()})
    return Phrases(**values, variants=variants)


def _variants(check: Checker, data: dict, name: str) -> tuple:
    raw = data.get(name)
    lines = isinstance(raw, list) and raw and isinstance(raw[0], list)
    if not isinstance(raw, list) or not 2 <= len(raw) <= 4:
        check.problem("expected a list of 2 to 4 variants", name)
        return ("",)
    try:
        return tuple(convert(v, Kind.LINES if lines else Kind.TEXT) for v in raw)
    except ValueError as err:
        check.problem(f"each variant: {err}", name)
        return ("",)


def _acknowledgements(check: Checker, data: dict) -> dict:
    raw = data.get("acknowledge")
    if not isinstance(raw, dict):
        check.problem("missing required table [acknowledge]", "acknowledge")
        return {}
    check.unknown_keys(raw, ACKNOWLEDGE_KEYS, "acknowledge", prefix="acknowledge.")
    return {key: check.value(raw, key, Kind.TEXT, table="acknowledge", prefix="acknowledge.",
                             required=True) for key in ACKNOWLEDGE_KEYS}


# ----------------------------------------------------------------------- positions

def load_positions_file(path: Path) -> Positions:
    """Positions and the moves between them (a ``positions.toml``); every position
    must reach every other."""
    data, text = read_toml(path)
    check = Checker(path, text)
    check.unknown_keys(data, ("position", "move"))
    positions = _positions(check, data)
    moves = _moves(check, data)
    missing = [p for p in POSITIONS if p not in positions]
    if missing:
        check.problem(f"positions missing: {', '.join(missing)}", "position")
    if check.problems:
        raise FileError(check.problems)
    result = Positions(positions, tuple(moves))
    for start in POSITIONS:
        for end in POSITIONS:
            result.path(start, end)   # every position reaches every other
    return result


def _positions(check: Checker, data: dict) -> dict[str, Position]:
    positions = {}
    for pid, raw in (data.get("position") or {}).items():
        table = f"position.{pid}"
        if pid not in POSITIONS:
            check.problem(f"unknown position; one of: {', '.join(POSITIONS)}", table)
            continue
        check.unknown_keys(raw, ("facts", "name", "settle", "rest", "finish", "needs"), table)
        opts = {"table": table, "required": True}
        positions[pid] = Position(
            pid, check.value(raw, "name", Kind.NAME, **opts),
            check.value(raw, "settle", Kind.LINES, **opts),
            check.value(raw, "rest", Kind.LINES, **opts),
            check.value(raw, "finish", Kind.LINES, **opts),
            check.value(raw, "needs", Kind.LINES, table=table, default=()))
    return positions


def _moves(check: Checker, data: dict) -> list[Move]:
    moves = []
    for index, raw in enumerate(data.get("move") or []):
        opts = {"table": "move", "index": index, "required": True}
        check.unknown_keys(raw, ("facts", "from", "to", "say", "seconds"), "move", index)
        move = Move(check.value(raw, "from", Kind.NAME, **opts),
                    check.value(raw, "to", Kind.NAME, **opts),
                    check.value(raw, "say", Kind.LINES, **opts),
                    check.value(raw, "seconds", Kind.SECONDS, **opts))
        if move.start not in POSITIONS or move.end not in POSITIONS:
            check.problem("from and to must be positions", "move", "move", index)
        moves.append(move)
    return moves
