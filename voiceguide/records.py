"""A session as the history database holds it, read without trusting the file.

Another program, or a hand, may have edited a row in a way SQLite's integrity check
cannot see: a date that is not one, bad JSON, a pain score of 'seven' or 10**30, NULL
where voiceguide always writes a value. :func:`read_record` checks every column; a
value voiceguide would not have written becomes None and the record names the column
in ``damaged``, so what shows the history marks the row instead of failing.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime

ENDINGS = ("completed", "stopped", "interrupted", "quit", "not-today")
#: What a column's reader returns for a value voiceguide would not have written.
DAMAGED = object()


def parse_time(value) -> datetime | None:
    """``value`` as a time with an offset, or None when it is none (not text, not an ISO
    8601 date and time, out of range). A time without an offset is local time."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
        return moment if moment.tzinfo else moment.astimezone()
    except (ValueError, OverflowError, OSError):
        return None


def _plain(value) -> bool:
    """True for a value voiceguide writes in ``pacing``: text, a number that is finite,
    a truth value or null."""
    return value is None or isinstance(value, (str, int)) or (
        isinstance(value, float) and math.isfinite(value))


def read_pacing(value) -> dict | object:
    """The ``pacing`` column as the JSON object voiceguide writes (names and plain,
    finite values), or :data:`DAMAGED`."""
    try:
        pacing = json.loads(value) if isinstance(value, str) else None
    except (ValueError, RecursionError):
        return DAMAGED
    if isinstance(pacing, dict) and all(_plain(v) for v in pacing.values()):
        return pacing
    return DAMAGED


def is_score(value) -> bool:
    """True for a pain score: a whole number from 0 to 10."""
    return type(value) is int and 0 <= value <= 10


def _kept(test):
    """A column's reader: the value where ``test`` passes it, else :data:`DAMAGED`."""
    return lambda value: value if test(value) else DAMAGED


_is_text = _kept(lambda v: isinstance(v, str))
_is_time = _kept(lambda v: parse_time(v) is not None)
_SESSION_READERS = {
    "id": _kept(lambda v: type(v) is int),
    "started_at": _is_time,
    "ended_at": _kept(lambda v: v is None or parse_time(v) is not None),
    "routine": _is_text,
    "title": _is_text,
    "pacing": read_pacing,
    "ending": lambda v: "interrupted" if v is None else v if v in ENDINGS else DAMAGED,
    "baseline": _kept(lambda v: v is None or is_score(v)),
    "final": _kept(lambda v: v is None or is_score(v)),
}
_CHECKIN_READERS = {
    "at": _is_time,
    "section": _kept(lambda v: v is None or isinstance(v, str)),
    "question": _is_text,
    "answer": _is_text,
    "source": _is_text,
}
SESSION_COLUMNS = tuple(_SESSION_READERS)
CHECKIN_COLUMNS = tuple(_CHECKIN_READERS)


def _read_columns(readers: dict, row, prefix: str = "") -> tuple[dict, list[str]]:
    """``row``'s values by column name, each through its reader; a damaged one is None
    and its name (after ``prefix``) is in the list."""
    values, damaged = {}, []
    for (name, read), raw in zip(readers.items(), row):
        value = read(raw)
        if value is DAMAGED:
            value = None
            damaged.append(prefix + name)
        values[name] = value
    return values, damaged


def read_record(row, checkins=()) -> SessionRecord:
    """The session in ``row`` (:data:`SESSION_COLUMNS`) with its ``checkins``
    (:data:`CHECKIN_COLUMNS`), every column checked; never raises.

    A value voiceguide would not have written (bad JSON pacing, a time that is not one,
    a score that is not a whole number from 0 to 10, NULL where a value belongs, bytes
    where text belongs, an unknown ending) is None and its column is named in the
    record's ``damaged``, a check-in's as ``checkins.answer`` and so on. A NULL ending
    is ``interrupted`` (the session never ended)."""
    values, damaged = _read_columns(_SESSION_READERS, row)
    answered = []
    for checkin in checkins:
        answer, names = _read_columns(_CHECKIN_READERS, checkin, "checkins.")
        answered.append(answer)
        damaged += [name for name in names if name not in damaged]
    return SessionRecord(**values, checkins=answered, damaged=damaged)


@dataclass
class SessionRecord:
    """One session as recorded; ``damaged`` names the columns whose values could not be
    read (those values are None), empty for an intact row (:func:`read_record`)."""

    id: int | None
    started_at: str | None
    ended_at: str | None
    routine: str | None
    title: str | None
    pacing: dict | None
    ending: str | None
    baseline: int | None
    final: int | None
    checkins: list[dict] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)

    @property
    def start(self) -> datetime | None:
        return parse_time(self.started_at)

    @property
    def minutes(self) -> float | None:
        start, end = self.start, parse_time(self.ended_at)
        if start is None or end is None:
            return None
        return round((end - start).total_seconds() / 60, 1)

    def to_json(self) -> dict:
        """The session for ``history --json``; ``damaged`` is always there, a list."""
        return {"id": self.id, "started_at": self.started_at, "ended_at": self.ended_at,
                "routine": self.routine, "title": self.title, "pacing": self.pacing,
                "ending": self.ending, "baseline": self.baseline, "final": self.final,
                "minutes": self.minutes, "checkins": self.checkins,
                "damaged": list(self.damaged)}
