"""TOML files read safely, with every problem placed on its file, line and key.

:func:`read_toml` returns a file's parsed data and its text, or raises
:class:`~voiceguide.errors.FileError` (a syntax error with its line, a file too large,
not a regular file, not UTF-8). :class:`Checker` then takes values out of the data
one by one, each converted by its :class:`Kind`, and collects a
:class:`~voiceguide.errors.Problem` (file, line, key) for every bad or missing one
instead of stopping at the first. It knows nothing of routines or techniques.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import stat
import sys
from pathlib import Path

from voiceguide import StrEnum
from voiceguide.errors import (FileError, InputError, Problem, StorageError, os_error_message,
                               plain, shown)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: The largest routine, technique or phrase file read (a real one is a few kB).
MAX_FILE_BYTES = 1_000_000
#: The largest value of any time in seconds (settle, hold, step, range) and of any
#: count (reps, rounds, and their ranges) in a file (see docs/format.md).
MAX_SECONDS = 600.0
MAX_COUNT = 50


class Kind(StrEnum):
    """What a value in a file must be, and what :func:`convert` makes of it."""

    TEXT = "str"                      # a non-empty string, stripped
    NAME = "name"                     # TEXT on one line: a title, an id (no tab, no break)
    LINES = "lines"                   # a string or a list of them -> a tuple
    BOOL = "bool"                     # true or false
    SECONDS = "seconds"               # a number in (0, MAX_SECONDS] -> float
    COUNT = "count"                   # a whole number in (0, MAX_COUNT] -> int
    SECONDS_RANGE = "seconds-range"   # [low, high] of seconds
    COUNT_RANGE = "count-range"       # [low, high] of counts


# --------------------------------------------------------------------------- lines

class Lines:
    """Finds the line of a key in TOML text, by table and array-of-tables index."""

    _header = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"]+)\s*\]\]?")
    _key = re.compile(r"^\s*\"?([A-Za-z0-9_\-]+)\"?\s*=")

    def __init__(self, text: str):
        self.keys: dict[tuple[str, int, str], int] = {}
        self.tables: dict[tuple[str, int], int] = {}
        table, index, counts = "", 0, {}
        for number, line in enumerate(text.splitlines(), start=1):
            header = self._header.match(line)
            if header:
                table = header.group(2).replace('"', "")
                index = counts.get(table, 0)
                if header.group(1) == "[[":
                    counts[table] = index + 1
                self.tables.setdefault((table, index), number)
                continue
            key = self._key.match(line)
            if key:
                self.keys.setdefault((table, index, key.group(1)), number)

    def of(self, table: str = "", index: int = 0, key: str | None = None) -> int | None:
        """The line of ``key`` in ``table`` (or of the table's header), if found."""
        if key is not None and (table, index, key) in self.keys:
            return self.keys[(table, index, key)]
        return self.tables.get((table, index))


def key_line(text: str, key: str, table: str = "") -> int | None:
    """The line of a top-level (or ``table``) key in TOML text, if found."""
    return Lines(text).of(table, 0, key)


# ------------------------------------------------------------------------- checker

class Checker:
    """Reads values out of parsed TOML and records every problem with its line."""

    def __init__(self, path: Path, text: str):
        self.path = path
        self.lines = Lines(text)
        self.problems: list[Problem] = []

    def problem(self, message: str, key: str | None = None, table: str = "",
                index: int = 0) -> None:
        """Record a problem on ``key`` (a dotted name: its last part is looked up)."""
        line = self.lines.of(table, index, key.split(".")[-1] if key else None)
        self.problems.append(Problem(message, self.path, line, key))

    def unknown_keys(self, data: dict, allowed: tuple[str, ...], table: str = "",
                     index: int = 0, prefix: str = "") -> None:
        """A problem for each key of ``data`` not in ``allowed``, with the closest."""
        for key in data:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                self.problem(f"unknown key{hint}; allowed: {', '.join(allowed)}",
                             prefix + key, table, index)

    def value(self, data: dict, key: str, kind: Kind, *, table: str = "", index: int = 0,
              prefix: str = "", required: bool = False, default=None):
        """``data[key]`` checked against ``kind``; ``default`` when absent or bad."""
        if key not in data:
            if required:
                self.problem("missing required key", prefix + key, table, index)
            return default
        raw = data[key]
        try:
            return convert(raw, kind)
        except ValueError as err:
            self.problem(str(err), prefix + key, table, index)
            return default


# ---------------------------------------------------------------------- conversion

def convert(raw, kind: Kind):
    """``raw`` as a value of ``kind``; :class:`ValueError` saying why it is not one."""
    return _CONVERTERS[kind](raw, kind)


def _text(raw, kind: Kind) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError(f"expected a non-empty string, not {shown(raw)}")
    return _plain(raw).strip()


def _name(raw, kind: Kind) -> str:
    text = _text(raw, kind)
    for number, char in enumerate(text):
        if char in "\t\n\r":
            raise ValueError(f"a {'tab' if char == chr(9) else 'line break'} at character "
                             f"{number + 1}; a title or name is one line")
    return text


def _lines(raw, kind: Kind) -> tuple[str, ...]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(x, str) and x.strip() for x in raw):
        raise ValueError(f"expected a list of non-empty strings, not {shown(raw)}")
    return tuple(_plain(x).strip() for x in raw)


def _bool(raw, kind: Kind) -> bool:
    if not isinstance(raw, bool):
        raise ValueError(f"expected true or false, not {shown(raw)}")
    return raw


def _number(raw, kind: Kind) -> int | float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise ValueError(f"expected a number, not {shown(raw)}")
    if not math.isfinite(raw):
        raise ValueError(f"expected a finite number, not {raw}")
    if raw <= 0:
        raise ValueError(f"must be greater than 0, not {raw}")
    limit = MAX_SECONDS if kind == Kind.SECONDS else MAX_COUNT
    if raw > limit:
        raise ValueError(f"{raw:g} is above the most allowed, {limit:g}")
    if kind == Kind.COUNT and not float(raw).is_integer():
        raise ValueError(f"expected a whole number, not {raw}")
    return int(raw) if kind == Kind.COUNT else float(raw)


def _range(raw, kind: Kind) -> tuple:
    item = Kind.SECONDS if kind == Kind.SECONDS_RANGE else Kind.COUNT
    if not isinstance(raw, list) or len(raw) != 2:
        raise ValueError(f"expected [low, high], not {shown(raw)}")
    low, high = (convert(x, item) for x in raw)
    if low > high:
        raise ValueError(f"low end {low} is above high end {high}")
    return (low, high)


_CONVERTERS = {Kind.TEXT: _text, Kind.NAME: _name, Kind.LINES: _lines, Kind.BOOL: _bool,
               Kind.SECONDS: _number, Kind.COUNT: _number,
               Kind.SECONDS_RANGE: _range, Kind.COUNT_RANGE: _range}


def _plain(text: str) -> str:
    """``text`` if it has no control character (NUL, escape sequences...) and no
    bidirectional control (which can make a line read differently from what it
    holds); tabs and line breaks are fine (they are spoken as spaces)."""
    return plain(text, allowed="\t\n\r")


# -------------------------------------------------------------------------- files

def read_text(path: Path) -> str:
    """A routine, technique or phrase file's text, read with a size limit: a FIFO, a
    device or a huge file can neither hang nor exhaust memory."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as err:   # permission denied, an I/O error...: exit 1, as for any I/O
        raise StorageError(os_error_message(err, path)) from None
    try:
        data = _read_regular(fd, path)
    finally:
        os.close(fd)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise FileError([Problem(f"not UTF-8 text ({err.reason} at byte {err.start})",
                                 path)]) from None


def _read_regular(fd: int, path: Path) -> bytes:
    """The bytes of the open regular file ``fd``, at most :data:`MAX_FILE_BYTES`."""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise FileError([Problem("not a regular file", path)])
        data = os.read(fd, MAX_FILE_BYTES + 1)
        while len(data) <= MAX_FILE_BYTES and (more := os.read(fd, MAX_FILE_BYTES + 1)):
            data += more
    except OSError as err:
        raise StorageError(os_error_message(err, path)) from None
    if len(data) > MAX_FILE_BYTES:
        raise FileError([Problem(f"larger than {MAX_FILE_BYTES // 1_000_000} MB; a routine "
                                 f"or technique file is a few kB", path)])
    return data


def read_toml(path: Path) -> tuple[dict, str]:
    """Parse a TOML file; a syntax error becomes a :class:`FileError` with its line."""
    text = read_text(path)
    try:
        return tomllib.loads(text), text
    except RecursionError:
        raise FileError([Problem("tables or arrays nested too deeply", path)]) from None
    except tomllib.TOMLDecodeError as err:
        message = str(err)
        match = re.search(r"\(at line (\d+), column \d+\)", message)
        line = int(match.group(1)) if match else None
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
        raise FileError([Problem(f"TOML syntax error: {message}", path, line)]) from None
