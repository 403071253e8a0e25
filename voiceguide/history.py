"""History: every session in an SQLite database in the per-user data folder.

Written as the session goes: the session row when it starts, each check-in the
moment it is answered, the ending when it ends, each in its own transaction, so
a crash or Ctrl-C loses nothing already answered. WAL mode and a busy timeout
let two sessions write at once. Only a database SQLite finds corrupt is renamed
aside (never deleted, never onto an existing file) and a new one started, with a
warning; any other failure (disk full, locked, read-only, an I/O error) is a
:class:`~voiceguide.errors.StorageError` naming the file and the cause, and nothing
is renamed. The file is private (0600, in a 0700 folder): pain scores are health data.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from voiceguide import paths
from voiceguide.atomic import create_private, private_dir
from voiceguide.errors import StorageError

DATABASE = "history.sqlite3"
SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    routine TEXT NOT NULL,
    title TEXT NOT NULL,
    pacing TEXT NOT NULL,
    ending TEXT,
    baseline INTEGER,
    final INTEGER
);
CREATE TABLE IF NOT EXISTS checkins (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    at TEXT NOT NULL,
    section TEXT,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    source TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
ENDINGS = ("completed", "stopped", "interrupted", "quit")
#: SQLite's primary result codes that mean "this file is damaged".
_CORRUPT_CODES = (11, 26)   # SQLITE_CORRUPT, SQLITE_NOTADB
_CORRUPT_MESSAGES = ("malformed", "not a database", "corrupt")


class _Damaged(sqlite3.DatabaseError):
    """``PRAGMA quick_check`` found the database damaged."""


def is_corrupt(err: sqlite3.Error) -> bool:
    """True only when SQLite says the file itself is damaged (not full, locked...)."""
    if isinstance(err, _Damaged):
        return True
    code = getattr(err, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _CORRUPT_CODES
    return any(text in str(err).lower() for text in _CORRUPT_MESSAGES)


def set_aside_name(path: Path) -> Path:
    """A name beside ``path`` for a damaged copy, never that of an existing file."""
    base = f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}"
    candidate, number = path.with_name(base), 1
    while any(candidate.with_name(candidate.name + s).exists() for s in ("", "-wal", "-shm")):
        number += 1
        candidate = path.with_name(f"{base}-{number}")
    return candidate


def _move_aside(source: Path, target: Path) -> None:
    """Rename without ever replacing ``target`` (a hard link, then unlink)."""
    try:
        os.link(source, target)
    except FileExistsError:
        raise
    except OSError:
        if target.exists():
            raise FileExistsError(17, "File exists", str(target)) from None
        os.rename(source, target)
        return
    os.unlink(source)


def database_path() -> Path:
    """Where the history database lives."""
    return paths.data_dir() / DATABASE


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


class History:
    """The session log. Each method is one short transaction."""

    def __init__(self, path: Path | None = None, wait: float = 10.0):
        """Open (creating if needed) the database; ``wait`` is how many seconds a lock
        held by another process is waited for."""
        self.path = path or database_path()
        self.wait = wait
        self.warnings: list[str] = []
        self.connection = self._open()

    def _open(self) -> sqlite3.Connection:
        try:
            private_dir(self.path.parent)
            create_private(self.path)
        except OSError as err:
            raise self._storage_error(err) from None
        try:
            return self._connect_patiently()
        except sqlite3.Error as err:
            if not is_corrupt(err):
                raise self._storage_error(err) from None
            aside = self._set_aside()
            self.warnings.append(f"the history database {self.path} was damaged ({err}); "
                                 f"it was kept as {aside} and a new one started")
        try:
            create_private(self.path)
            return self._connect()
        except (OSError, sqlite3.Error) as err:
            raise self._storage_error(err) from None

    def _set_aside(self) -> Path:
        """Move the damaged file (and its -wal, -shm) to a new name; return it."""
        aside = set_aside_name(self.path)
        try:
            _move_aside(self.path, aside)
            for suffix in ("-wal", "-shm"):
                extra = self.path.with_name(self.path.name + suffix)
                if extra.exists():
                    _move_aside(extra, aside.with_name(aside.name + suffix))
        except OSError as err:
            raise self._storage_error(err) from None
        return aside

    def _storage_error(self, err: BaseException) -> StorageError:
        cause = getattr(err, "strerror", None) or str(err)
        return StorageError(f"cannot use the history database {self.path}: {cause}")

    def _connect_patiently(self) -> sqlite3.Connection:
        """:meth:`_connect`, retried while another process holds a lock (switching a
        new database to WAL does not wait by itself)."""
        deadline = time.monotonic() + self.wait
        while True:
            try:
                return self._connect()
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=self.wait, isolation_level=None)
        try:
            connection.execute(f"PRAGMA busy_timeout = {int(self.wait * 1000)}")
            check = connection.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise _Damaged(check)
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
            with connection:
                connection.executescript(SCHEMA)
        except sqlite3.Error:
            connection.close()
            raise
        return connection

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> "History":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _write(self, sql: str, args=()) -> sqlite3.Cursor:
        try:
            with self.connection:
                return self.connection.execute(sql, args)
        except sqlite3.Error as err:
            raise self._storage_error(err) from None

    def _read(self, sql: str, args=()) -> list[tuple]:
        try:
            return self.connection.execute(sql, args).fetchall()
        except sqlite3.Error as err:
            raise self._storage_error(err) from None

    # ----------------------------------------------------------------- writing
    def start(self, routine: str, title: str, pacing: dict) -> int:
        """Record a session's start; returns its id."""
        cursor = self._write("INSERT INTO sessions (started_at, routine, title, pacing) "
                             "VALUES (?, ?, ?, ?)",
                             (_now(), routine, title, json.dumps(pacing, default=str)))
        return cursor.lastrowid

    def checkin(self, session: int, question: str, answer: str, source: str,
                section: str | None = None) -> None:
        """Record one answered (or unanswered) check-in, at once."""
        self._write("INSERT INTO checkins (session_id, at, section, question, answer, source) "
                    "VALUES (?, ?, ?, ?, ?, ?)", (session, _now(), section, question, answer,
                                                  source))

    def pain(self, session: int, which: str, score: int) -> None:
        """Record the ``baseline`` or ``final`` pain score (0-10)."""
        assert which in ("baseline", "final")
        self._write(f"UPDATE sessions SET {which} = ? WHERE id = ?", (score, session))

    def end(self, session: int, ending: str) -> None:
        """Record how the session ended."""
        assert ending in ENDINGS, ending
        self._write("UPDATE sessions SET ended_at = ?, ending = ? WHERE id = ?",
                    (_now(), ending, session))

    def get_meta(self, key: str) -> str | None:
        rows = self._read("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self._write("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # ----------------------------------------------------------------- reading
    def sessions_today(self) -> int:
        """Sessions started today (local time)."""
        today = datetime.now().astimezone().date().isoformat()
        return self._read("SELECT COUNT(*) FROM sessions WHERE substr(started_at, 1, 10) = ?",
                          (today,))[0][0]

    def sessions(self, limit: int = 50) -> list["SessionRecord"]:
        """The most recent sessions, newest first, with their check-ins."""
        rows = self._read(
            "SELECT id, started_at, ended_at, routine, title, pacing, ending, baseline, final "
            "FROM sessions ORDER BY id DESC LIMIT ?", (limit,))
        records = []
        for row in rows:
            checkins = self._read(
                "SELECT at, section, question, answer, source FROM checkins "
                "WHERE session_id = ? ORDER BY id", (row[0],))
            records.append(SessionRecord(
                id=row[0], started_at=row[1], ended_at=row[2], routine=row[3], title=row[4],
                pacing=json.loads(row[5]), ending=row[6] or "interrupted", baseline=row[7],
                final=row[8], checkins=[dict(zip(("at", "section", "question", "answer",
                                                  "source"), c)) for c in checkins]))
        return records


@dataclass
class SessionRecord:
    """One session as recorded."""

    id: int
    started_at: str
    ended_at: str | None
    routine: str
    title: str
    pacing: dict
    ending: str
    baseline: int | None
    final: int | None
    checkins: list[dict] = field(default_factory=list)

    @property
    def minutes(self) -> float | None:
        if not self.ended_at:
            return None
        start = datetime.fromisoformat(self.started_at)
        return round((datetime.fromisoformat(self.ended_at) - start).total_seconds() / 60, 1)

    def to_json(self) -> dict:
        return {"id": self.id, "started_at": self.started_at, "ended_at": self.ended_at,
                "routine": self.routine, "title": self.title, "pacing": self.pacing,
                "ending": self.ending, "baseline": self.baseline, "final": self.final,
                "minutes": self.minutes, "checkins": self.checkins}


def daily_trend(records: list[SessionRecord]) -> list[tuple[str, float | None, float | None]]:
    """Per day, oldest first: the mean baseline and the mean final pain score."""
    days: dict[str, tuple[list[int], list[int]]] = {}
    for record in records:
        before, after = days.setdefault(record.started_at[:10], ([], []))
        if record.baseline is not None:
            before.append(record.baseline)
        if record.final is not None:
            after.append(record.final)

    def mean(values):
        return round(sum(values) / len(values), 1) if values else None

    return [(day, mean(b), mean(a)) for day, (b, a) in sorted(days.items())]


def chart(trend, width: int = 20) -> str:
    """The pain trend as a terminal chart: one line per day, before and after."""
    if not any(b is not None or a is not None for _, b, a in trend):
        return "No pain scores yet: answer the first and last questions of a session."
    lines = ["Pain (0-10) per day: B = before, A = after"]
    for day, before, after in trend:
        for mark, value in (("B", before), ("A", after)):
            if value is None:
                continue
            bar = "█" * int(round(value * width / 10))
            lines.append(f"{day if mark == 'B' or before is None else '':<10} {mark} "
                         f"{bar:<{width}} {value:g}")
    return "\n".join(lines)


#: How a spreadsheet tells a formula from text: a cell starting with one of these.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value):
    """``value`` as a CSV cell a spreadsheet shows as it is: text that would start a
    formula (``=HYPERLINK(...)`` in a routine's name) gets a leading ``'``, the
    usual mark of literal text; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(records: list[SessionRecord]) -> str:
    """Sessions as CSV, oldest first, for sharing with a clinician. No cell starts a
    spreadsheet formula (:func:`spreadsheet_text`)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["date", "start", "end", "routine", "ending", "pain_before", "pain_after",
                     "minutes", "checkins"])
    for r in reversed(records):
        answers = "; ".join(f"{c['answer']} ({c['source']})" for c in r.checkins)
        writer.writerow([spreadsheet_text(cell) for cell in (
            r.started_at[:10], r.started_at[11:16], (r.ended_at or "")[11:16], r.routine,
            r.ending, "" if r.baseline is None else r.baseline,
            "" if r.final is None else r.final, "" if r.minutes is None else r.minutes,
            answers)])
    return out.getvalue()
