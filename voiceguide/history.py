"""History: every session in an SQLite database in the per-user data folder.

Written as the session goes: the session row when it starts, each check-in the
moment it is answered, the ending when it ends, each in its own transaction, so
a crash or Ctrl-C loses nothing already answered. WAL mode and a busy timeout
let two sessions write at once. Only a database SQLite finds corrupt is renamed
aside (never deleted, never onto an existing file) and a new one started, with a
warning; any other failure (disk full, locked, read-only, an I/O error) is a
:class:`~voiceguide.errors.StorageError` naming the file and the cause, and nothing
is renamed. The file is private (0600, in a 0700 folder): pain scores are health data.

Reading never trusts the file: a row edited by hand or by another program is read
column by column (:func:`read_record`), and what voiceguide would not have written is
shown as damaged, never an error. Opened for reading, a database that cannot be
written is read without creating, changing or migrating anything.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import time
from datetime import datetime
from pathlib import Path

from voiceguide import paths
from voiceguide.atomic import create_private, private_dir
from voiceguide.errors import StorageError
from voiceguide.records import (CHECKIN_COLUMNS, ENDINGS, SESSION_COLUMNS, SessionRecord,
                                is_score, parse_time, read_record)

DATABASE = "history.sqlite3"
TABLES = {
    "sessions": """CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    routine TEXT NOT NULL,
    title TEXT NOT NULL,
    pacing TEXT NOT NULL,
    ending TEXT,
    baseline INTEGER,
    final INTEGER
)""",
    "checkins": """CREATE TABLE IF NOT EXISTS checkins (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    at TEXT NOT NULL,
    section TEXT,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    source TEXT NOT NULL
)""",
    "meta": "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
}
SCHEMA = "".join(f"{sql};\n" for sql in TABLES.values())
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


def writable(path: Path) -> bool:
    """True when ``path`` can be written, or created: the file (if it exists) and the
    nearest existing folder above it allow writing (not on a read-only file system)."""
    folder = path.parent
    while not os.path.exists(folder) and folder.parent != folder:
        folder = folder.parent
    if os.path.exists(path) and not os.access(path, os.W_OK):
        return False
    return os.access(folder, os.W_OK)


def _cannot_open(err: sqlite3.Error) -> bool:
    """True when SQLite could not open the file (SQLITE_CANTOPEN)."""
    code = getattr(err, "sqlite_errorcode", None)
    return code & 0xFF == 14 if code is not None else "unable to open" in str(err)


def _decoded(raw: bytes) -> str | bytes:
    """A TEXT value as text, or as the bytes it is when they are not UTF-8 (another
    program's), for :func:`read_record` to find damaged instead of failing the query."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def _stand_in_tables(connection: sqlite3.Connection) -> None:
    """Each of :data:`TABLES` that the database lacks made as an empty temporary table,
    so it reads as empty; the database itself is not touched."""
    present = {name for (name,) in connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    for name, sql in TABLES.items():
        if name not in present:
            connection.execute(sql.replace("CREATE TABLE", "CREATE TEMP TABLE", 1))


class History:
    """The session log. Each method is one short transaction."""

    def __init__(self, path: Path | None = None, wait: float = 10.0, reading: bool = False):
        """Open (creating if needed) the database; ``wait`` is how many seconds a lock
        held by another process is waited for.

        With ``reading`` (to show the history), a database whose file or folder cannot
        be written (permissions, a read-only file system) is opened read-only instead:
        nothing is created, changed or migrated, a missing database or table reads as
        empty, and every write is a :class:`StorageError`."""
        self.path = path or database_path()
        self.wait = wait
        self.warnings: list[str] = []
        self.read_only = reading and not writable(self.path)
        self.connection = self._open_read_only() if self.read_only else self._open()

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

    def _open_read_only(self) -> sqlite3.Connection:
        """A connection that only reads (:meth:`_connect_read_only`), or an empty
        database in memory where there is no file."""
        try:
            if self.path.exists():
                connection = self._connect_read_only()
            else:
                connection = sqlite3.connect(":memory:", isolation_level=None)
            _stand_in_tables(connection)
            connection.execute("PRAGMA query_only = ON")
        except (OSError, sqlite3.Error) as err:
            if isinstance(err, sqlite3.Error) and is_corrupt(err):
                raise StorageError(f"the history database {self.path} is damaged ({err}) "
                                   "and cannot be written: it was left as it is") from None
            raise self._storage_error(err) from None
        return connection

    def _connect_read_only(self) -> sqlite3.Connection:
        """The file opened ``immutable`` when no -wal file is beside it (all is in the
        file, and nothing is created beside it); else ``mode=ro``, which reads the -wal,
        or, where even that cannot be opened, ``immutable`` with a warning."""
        uri = self.path.resolve().as_uri()
        wal = self.path.with_name(self.path.name + "-wal")
        if wal.exists():
            try:
                return self._checked(sqlite3.connect(f"{uri}?mode=ro", uri=True,
                                                     timeout=self.wait, isolation_level=None))
            except sqlite3.OperationalError as err:
                if not _cannot_open(err):
                    raise
            if wal.stat().st_size:
                self.warnings.append(f"the history database {self.path} cannot be written "
                                     f"and {wal} cannot be read with it: the newest "
                                     "sessions may be missing")
        return self._checked(sqlite3.connect(f"{uri}?immutable=1", uri=True,
                                             isolation_level=None))

    def _checked(self, connection: sqlite3.Connection) -> sqlite3.Connection:
        """``connection``, reading text as :func:`_decoded`, once ``PRAGMA quick_check``
        finds the database intact (closed and :class:`_Damaged` otherwise)."""
        connection.text_factory = _decoded
        try:
            connection.execute(f"PRAGMA busy_timeout = {int(self.wait * 1000)}")
            check = connection.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise _Damaged(check)
        except sqlite3.Error:
            connection.close()
            raise
        return connection

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
        connection = self._checked(sqlite3.connect(self.path, timeout=self.wait,
                                                   isolation_level=None))
        try:
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

    def sessions(self, limit: int = 50) -> list[SessionRecord]:
        """The most recent sessions, newest first, with their check-ins, each read by
        :func:`read_record`: a damaged value is marked, never an error."""
        rows = self._read(f"SELECT {', '.join(SESSION_COLUMNS)} FROM sessions "
                          "ORDER BY id DESC LIMIT ?", (limit,))
        return [read_record(row, self._read(
            f"SELECT {', '.join(CHECKIN_COLUMNS)} FROM checkins WHERE session_id = ? "
            "ORDER BY id", (row[0],))) for row in rows]


TABLE_HEADER = f"{'when':<17} {'routine':<14} {'ending':<12} {'pain':<9} {'min':>5}  check-ins"


def _shown(value, damaged: bool) -> str:
    return "?" if damaged else "" if value is None else str(value)


def table_row(r: SessionRecord) -> str:
    """``r`` as a line under :data:`TABLE_HEADER`, before :func:`safe_line`: a damaged
    value shows as ``?`` and the line ends ``(damaged row: pacing, started_at)``."""
    def cell(name: str) -> str:
        return _shown(getattr(r, name), name in r.damaged)

    start = r.start
    when = "?" if start is None else start.isoformat(sep=" ", timespec="minutes")[:16]
    answers = ", ".join(_shown(c["answer"], c["answer"] is None) for c in r.checkins)
    minutes = "" if r.minutes is None else f"{r.minutes:g}"
    line = (f"{when:<17} {cell('routine'):<14} {cell('ending'):<12} "
            f"{cell('baseline') + '->' + cell('final'):<9} {minutes:>5}  {answers}")
    return line + (f"  (damaged row: {', '.join(r.damaged)})" if r.damaged else "")


def daily_trend(records: list[SessionRecord]) -> list[tuple[str, float | None, float | None]]:
    """Per day, oldest first: the mean baseline and the mean final pain score. A
    session without a readable start, and a score that is not one, are left out."""
    days: dict[str, tuple[list[int], list[int]]] = {}
    for record in records:
        start = record.start
        if start is None:
            continue
        before, after = days.setdefault(start.date().isoformat(), ([], []))
        for scores, score in ((before, record.baseline), (after, record.final)):
            if is_score(score):
                scores.append(score)

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


def _clock(moment: datetime | None) -> str:
    return "" if moment is None else moment.isoformat(timespec="minutes")[11:16]


def _blank(value):
    return "" if value is None else value


def to_csv(records: list[SessionRecord]) -> str:
    """Sessions as CSV, oldest first, for sharing with a clinician. No cell starts a
    spreadsheet formula (:func:`spreadsheet_text`). A damaged value's cell is empty
    and the last column, ``damaged``, names those columns (``pacing; started_at``)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["date", "start", "end", "routine", "ending", "pain_before", "pain_after",
                     "minutes", "checkins", "damaged"])
    for r in reversed(records):
        start = r.start
        answers = "; ".join(f"{_shown(c['answer'], c['answer'] is None)} "
                            f"({_shown(c['source'], c['source'] is None)})" for c in r.checkins)
        writer.writerow([spreadsheet_text(cell) for cell in (
            "" if start is None else start.date().isoformat(), _clock(start),
            _clock(parse_time(r.ended_at)), _blank(r.routine), _blank(r.ending),
            _blank(r.baseline), _blank(r.final), _blank(r.minutes), answers,
            "; ".join(r.damaged))])
    return out.getvalue()
