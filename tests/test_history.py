"""History in real SQLite: written as it goes, survives SIGKILL, damage set aside."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support.cli import run_voiceguide
from voiceguide import history as log
from voiceguide.cli.app import cli


def test_session_is_recorded_as_it_goes(tmp_path):
    with log.History(tmp_path / "h.sqlite3") as db:
        session = db.start("morning", "Morning", {"pace": 1.0})
        db.pain(session, "baseline", 6)
        db.checkin(session, "How is your back?", "good", "voice", "Cat and cow")
        db.checkin(session, "How is your back?", "none", "timeout", "Child's pose")
        db.pain(session, "final", 4)
        db.end(session, "completed")
        [record] = db.sessions()
    assert (record.routine, record.ending, record.baseline, record.final) == \
        ("morning", "completed", 6, 4)
    assert [(c["answer"], c["source"]) for c in record.checkins] == \
        [("good", "voice"), ("none", "timeout")]


WRITER = """
import sys, time
from pathlib import Path
from voiceguide.history import History
db = History(Path(sys.argv[1]))
session = db.start("morning", "Morning", {})
for n in range(int(sys.argv[2])):
    db.checkin(session, "How is your back?", "good", "key")
    print(n, flush=True)
    time.sleep(float(sys.argv[3]))
db.end(session, "completed")
"""


def test_sigkill_loses_nothing_already_answered(tmp_path):
    path = tmp_path / "h.sqlite3"
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(path), "1000", "0.05"],
                               stdout=subprocess.PIPE, text=True)
    for _ in range(5):
        answered = int(process.stdout.readline())
    process.send_signal(signal.SIGKILL)
    process.wait()
    with log.History(path) as db:
        [record] = db.sessions()
    assert len(record.checkins) >= answered + 1
    assert record.ending == "interrupted" and record.ended_at is None


def test_two_sessions_at_once_do_not_corrupt(tmp_path):
    path = tmp_path / "h.sqlite3"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), "150", "0"],
                                stdout=subprocess.DEVNULL) for _ in range(2)]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    with log.History(path) as db:
        records = db.sessions()
        assert db.connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert [len(r.checkins) for r in records] == [150, 150]
    assert {r.ending for r in records} == {"completed"}


def test_damaged_database_is_kept_aside_and_a_new_one_started(tmp_path):
    path = tmp_path / "h.sqlite3"
    path.write_bytes(b"this is not a database, but it is somebody's data" * 100)
    with log.History(path) as db:
        assert db.warnings and "kept as" in db.warnings[0]
        db.start("quick", "Quick", {})
        assert len(db.sessions()) == 1
    aside = [p for p in tmp_path.iterdir() if ".damaged-" in p.name]
    assert len(aside) == 1
    assert aside[0].read_bytes().startswith(b"this is not a database")


def test_history_command_table_chart_json_csv(user_dirs):
    with log.History() as db:
        for baseline, final in ((7, 5), (6, 3)):
            session = db.start("morning", "Morning", {})
            db.pain(session, "baseline", baseline)
            db.checkin(session, "How is your back?", "good", "voice")
            db.pain(session, "final", final)
            db.end(session, "completed")
    runner = CliRunner()
    text = runner.invoke(cli, ["history"]).output
    assert "morning" in text and "7->5" in text and "Pain (0-10) per day" in text
    data = json.loads(runner.invoke(cli, ["history", "--json"]).output)
    assert [(d["baseline"], d["final"]) for d in data] == [(6, 3), (7, 5)]
    rows = runner.invoke(cli, ["history", "--csv"]).output.strip().splitlines()
    assert rows[0].startswith("date,start,end,routine,ending,pain_before,pain_after")
    assert rows[1].split(",")[5:7] == ["7", "5"]


def test_history_command_warns_about_a_damaged_file(user_dirs):
    path = log.database_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage" * 1000)
    result = run_voiceguide("history")
    assert result.returncode == 0
    assert "was damaged" in result.stderr and "No sessions yet" in result.stdout


def test_trend_means_per_day():
    records = [log.SessionRecord(1, "2026-11-20T08:00:00+00:00", None, "m", "M", {}, "completed", 6, 4),
               log.SessionRecord(2, "2026-11-20T19:00:00+00:00", None, "m", "M", {}, "completed", 4, 2),
               log.SessionRecord(3, "2026-11-21T08:00:00+00:00", None, "m", "M", {}, "stopped", 5, None)]
    assert log.daily_trend(records) == [("2026-11-20", 5.0, 3.0), ("2026-11-21", 5.0, None)]


def test_history_csv_never_holds_a_spreadsheet_formula(user_dirs):
    """A routine file named like a formula (shared with the user, say) must not run as
    one when the CSV is opened in a spreadsheet: such cells start with ' (text)."""
    with log.History() as db:
        for name in ('=HYPERLINK("http://x","y")', "+1", "@SUM(A1)", "-2+3", "plain"):
            session = db.start(name, name, {})
            db.pain(session, "baseline", 3)
            db.end(session, "completed")
    result = run_voiceguide("history", "--csv")
    assert result.returncode == 0
    cells = list(csv.reader(result.stdout.splitlines()))[1:]
    assert [c[3] for c in cells] == ["'=HYPERLINK(\"http://x\",\"y\")", "'+1", "'@SUM(A1)",
                                     "'-2+3", "plain"]
    assert [c[5] for c in cells] == ["3"] * 5     # numbers stay numbers


# ------------------------------------------- rows edited or damaged by hand

HOSTILE_DEFAULTS = {"started_at": "2026-11-22T08:00:00+00:00",
                    "ended_at": "2026-11-22T08:20:00+00:00", "routine": "hostile",
                    "title": "Hostile", "pacing": '{"pace": 1.0}', "ending": "completed",
                    "baseline": 4, "final": 2}


def _record_good_sessions() -> None:
    """Two real sessions, recorded as ``play`` records them: 7->5 and 6->3."""
    with log.History() as db:
        for baseline, final in ((7, 5), (6, 3)):
            session = db.start("morning", "Morning", {"pace": 1.0})
            db.pain(session, "baseline", baseline)
            db.checkin(session, "How is your back?", "good", "voice")
            db.pain(session, "final", final)
            db.end(session, "completed")


def _write_row(table: str, **columns) -> int:
    """One row written with sqlite3 directly, as another program (or a hand) would;
    its id."""
    sql = (f"INSERT INTO {table} ({', '.join(columns)}) "
           f"VALUES ({', '.join('?' * len(columns))})")
    with closing(sqlite3.connect(log.database_path())) as connection, connection:
        return connection.execute(sql, tuple(columns.values())).lastrowid


def _hostile_session(**columns) -> int:
    """A session row like voiceguide's, with ``columns`` in place of its values."""
    return _write_row("sessions", **(HOSTILE_DEFAULTS | columns))


def _assert_history_shows(damaged: list[str], env=None) -> None:
    """``history``, ``--json`` and ``--csv`` exit 0 without a traceback, show the two
    good sessions intact and the newest (hostile) one marked with ``damaged``."""
    results = [run_voiceguide("history", *flags, env=env) for flags in ((), ("--json",),
                                                                         ("--csv",))]
    for result in results:
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        assert "\x1b" not in result.stdout
    table, as_json, as_csv = (r.stdout for r in results)

    lines = table.splitlines()
    marked = [line for line in lines if "(damaged row:" in line]
    assert len(marked) == 1 and marked[0].endswith(f"(damaged row: {', '.join(damaged)})")
    assert sum(" morning " in line and "7->5" in line and "good" in line for line in lines) == 1
    assert sum(" morning " in line and "6->3" in line and "good" in line for line in lines) == 1
    assert "Pain (0-10) per day" in table

    hostile, *good = json.loads(as_json)
    assert hostile["damaged"] == damaged
    assert [field for field in damaged if "." not in field and hostile[field] is not None] == []
    assert [(g["routine"], g["baseline"], g["final"], g["damaged"]) for g in good] == \
        [("morning", 6, 3, []), ("morning", 7, 5, [])]

    header, *rows = list(csv.reader(as_csv.splitlines()))
    assert header[-1] == "damaged"
    assert [(r[3], r[5], r[6], r[-1]) for r in rows[:2]] == \
        [("morning", "7", "5", ""), ("morning", "6", "3", "")]
    assert rows[2][-1] == "; ".join(damaged)


@pytest.mark.parametrize("columns, damaged", [
    (dict(pacing="{not json"), ["pacing"]),
    (dict(pacing="[1, 2]"), ["pacing"]),
    (dict(pacing='{"pace": NaN, "hold": 1e999}'), ["pacing"]),
    (dict(pacing="[" * 100_000), ["pacing"]),
    (dict(started_at="yesterday"), ["started_at"]),
    (dict(started_at="2026-13-45"), ["started_at"]),
    (dict(started_at="\x1b[2J2026-11-22T08:00:00"), ["started_at"]),
    (dict(started_at=1732262400), ["started_at"]),      # a Unix time
    (dict(ended_at="2026-13-45T99:00:00"), ["ended_at"]),
    (dict(started_at="yesterday", pacing="{"), ["started_at", "pacing"]),
    (dict(baseline="seven"), ["baseline"]),
    (dict(baseline=str(10 ** 30)), ["baseline"]),        # stored as REAL 1e30
    (dict(final=9223372036854775807), ["final"]),
    (dict(baseline=1e308, final=float("inf")), ["baseline", "final"]),
    (dict(baseline=-1, final=11), ["baseline", "final"]),
    (dict(baseline=b"\x07"), ["baseline"]),
    (dict(ending="exploded"), ["ending"]),
    (dict(ending=3), ["ending"]),
    (dict(routine=b"\xff\xfe"), ["routine"]),
    (dict(title=b"\x00"), ["title"]),
])
def test_history_marks_a_damaged_session_row_and_shows_the_rest(columns, damaged):
    _record_good_sessions()
    _hostile_session(**columns)
    _assert_history_shows(damaged)


def test_history_marks_text_that_is_not_utf8():
    """A TEXT value that is not UTF-8 (another program's bytes) made the whole history
    unreadable: sqlite3 fails on fetching it."""
    _record_good_sessions()
    session = _hostile_session()
    with closing(sqlite3.connect(log.database_path())) as connection, connection:
        connection.execute("UPDATE sessions SET routine = CAST(x'ff61' AS TEXT) WHERE id = ?",
                           (session,))
    _assert_history_shows(["routine"])


@pytest.mark.parametrize("columns, damaged", [
    (dict(answer=b"\x80\x81"), ["checkins.answer"]),
    (dict(at="2026-11-22T25:00:00"), ["checkins.at"]),
    (dict(section=b"x", source=b"y"), ["checkins.section", "checkins.source"]),
])
def test_history_marks_a_damaged_checkin(columns, damaged):
    _record_good_sessions()
    session = _hostile_session()
    _write_row("checkins", **({"session_id": session, "at": "2026-11-22T08:10:00+00:00",
                               "section": None, "question": "How is your back?",
                               "answer": "good", "source": "key"} | columns))
    _assert_history_shows(damaged)


#: voiceguide's tables as another program (or an older version) could have made them:
#: without NOT NULL, so NULLs pass SQLite's integrity check.
LOOSE_SCHEMA = """
CREATE TABLE sessions (id INTEGER PRIMARY KEY, started_at TEXT, ended_at TEXT,
    routine TEXT, title TEXT, pacing TEXT, ending TEXT, baseline INTEGER, final INTEGER);
CREATE TABLE checkins (id INTEGER PRIMARY KEY, session_id INTEGER, at TEXT, section TEXT,
    question TEXT, answer TEXT, source TEXT);
"""


def test_history_marks_nulls_where_voiceguide_always_writes_a_value():
    path = log.database_path()
    path.parent.mkdir(parents=True)
    with closing(sqlite3.connect(path)) as connection:
        connection.executescript(LOOSE_SCHEMA)
    _record_good_sessions()
    session = _hostile_session(started_at=None, routine=None, title=None, pacing=None)
    _write_row("checkins", session_id=session, at=None, section=None, question=None,
               answer=None, source=None)
    _assert_history_shows(["started_at", "routine", "title", "pacing", "checkins.at",
                           "checkins.question", "checkins.answer", "checkins.source"])


def test_history_takes_a_time_without_an_offset_as_local_time():
    """Naive and timezone-aware times, across rows and within one, are not damage: a
    time without an offset is local time (TZ=UTC here)."""
    _record_good_sessions()
    _hostile_session(started_at="2026-11-21T08:00:00", ended_at="2026-11-21T08:30:00+00:00")
    _hostile_session(started_at="2026-11-20 09:00", ended_at="2026-11-20T09:12:00")
    env = dict(os.environ, TZ="UTC")
    results = [run_voiceguide("history", *flags, env=env) for flags in ((), ("--json",),
                                                                         ("--csv",))]
    for result in results:
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    table, as_json, as_csv = (r.stdout for r in results)
    assert "damaged" not in table
    assert "2026-11-20 09:00  hostile" in table and "2026-11-21 08:00  hostile" in table
    data = json.loads(as_json)
    assert [(d["started_at"], d["minutes"], d["damaged"]) for d in data][:2] == \
        [("2026-11-20 09:00", 12.0, []), ("2026-11-21T08:00:00", 30.0, [])]
    rows = list(csv.reader(as_csv.splitlines()))[1:]
    assert [r[:3] + [r[7], r[-1]] for r in rows[2:]] == [
        ["2026-11-21", "08:00", "08:30", "30.0", ""], ["2026-11-20", "09:00", "09:12", "12.0", ""]]


# ------------------------------------------------------ a read-only history

@contextlib.contextmanager
def read_only(folder: Path):
    """``folder`` bind-mounted read-only onto itself: a read-only file system, which
    stops root too (chmod does not). Skips the test where mounting is not allowed."""
    bound = subprocess.run(["mount", "--bind", str(folder), str(folder)],
                           capture_output=True, text=True)
    if bound.returncode != 0:
        pytest.skip(f"cannot bind-mount a folder (needs root): {bound.stderr.strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], check=True)
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _folder_state(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_history_reads_a_database_on_a_read_only_file_system(user_dirs):
    """Closed cleanly (no -wal, no -shm beside it), SQLite cannot open the database
    mode=ro where the folder cannot be written: it is read as immutable, and nothing in
    the folder changes. While a session is being recorded its newest rows are in the
    -wal file, beside the -shm: read mode=ro, they are shown."""
    folder = user_dirs["data"]
    _record_good_sessions()
    _hostile_session(pacing="{")
    before = _folder_state(folder)
    assert sorted(before) == [log.DATABASE]
    with read_only(folder):
        _assert_history_shows(["pacing"])
        with pytest.raises(log.StorageError, match="cannot use the history database .*"
                                                   "history.sqlite3: "):
            log.History().start("quick", "Quick", {})
        with log.History(reading=True) as db, \
                pytest.raises(log.StorageError, match="history.sqlite3: .*readonly"):
            db.start("quick", "Quick", {})
    assert _folder_state(folder) == before

    with log.History() as writer:
        session = writer.start("evening", "Evening", {})
        writer.pain(session, "baseline", 8)
        assert (folder / (log.DATABASE + "-wal")).stat().st_size > 0
        with read_only(folder):
            result = run_voiceguide("history")
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert " evening " in result.stdout and "8->" in result.stdout


def test_history_read_only_says_when_the_newest_sessions_cannot_be_read(user_dirs):
    """A -wal file without its -shm (the -shm lost, say) on a read-only file system:
    only the main file can be read, and the command says the newest may be missing."""
    folder = user_dirs["data"]
    _record_good_sessions()
    with log.History() as writer:
        writer.start("evening", "Evening", {})
        kept = {p.name: p.read_bytes() for p in folder.iterdir()}
    for name, data in kept.items():
        (folder / name).write_bytes(data)
    (folder / (log.DATABASE + "-shm")).unlink()
    with read_only(folder):
        result = run_voiceguide("history")
    assert result.returncode == 0, result.stderr
    assert "-wal" in result.stderr and "may be missing" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1


def test_history_with_no_database_on_a_read_only_file_system_is_empty(user_dirs):
    folder = user_dirs["data"]
    folder.mkdir(parents=True)
    with read_only(folder):
        result = run_voiceguide("history")
        assert result.returncode == 0 and "No sessions yet" in result.stdout, result.stderr
        assert run_voiceguide("history", "--json").stdout.strip() == "[]"
    assert list(folder.iterdir()) == []
    (folder / log.DATABASE).touch()     # a database file never written to: no tables
    with read_only(folder):
        result = run_voiceguide("history")
    assert result.returncode == 0 and "No sessions yet" in result.stdout, result.stderr
    assert (folder / log.DATABASE).stat().st_size == 0


def test_a_damaged_database_on_a_read_only_file_system_is_left_as_it_is(user_dirs):
    """It cannot be set aside there: one line says so, and the file is untouched."""
    folder = user_dirs["data"]
    folder.mkdir(parents=True)
    (folder / log.DATABASE).write_bytes(b"garbage" * 1000)
    with read_only(folder):
        result = run_voiceguide("history")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"voiceguide: the history database {folder / log.DATABASE} is damaged (file is not a "
        "database) and cannot be written: it was left as it is"]
    assert _folder_state(folder) == {log.DATABASE: b"garbage" * 1000}


def _permissions_stop_writes(folder: Path) -> bool:
    """False for root (os.geteuid() == 0) and anyone else with CAP_DAC_OVERRIDE: a
    0400 file does not stop them writing."""
    probe = folder / "probe"
    probe.touch(mode=0o400)
    try:
        with open(probe, "a"):
            return False
    except PermissionError:
        return True
    finally:
        probe.unlink()


def test_history_reads_a_database_its_user_cannot_write(user_dirs, tmp_path):
    if not _permissions_stop_writes(tmp_path):
        pytest.skip("running as root: chmod 0500/0400 stops no write, so SQLite would "
                    "open the file for writing anyway (the read-only file system tests "
                    "above cover root)")
    _record_good_sessions()
    _hostile_session(ending="exploded")
    folder, path = user_dirs["data"], log.database_path()
    try:
        path.chmod(0o400)       # folder writable: opened mode=ro
        _assert_history_shows(["ending"])
        folder.chmod(0o500)     # folder not writable either: read as immutable
        _assert_history_shows(["ending"])
        with pytest.raises(log.StorageError, match="history.sqlite3"):
            log.History().start("quick", "Quick", {})
    finally:
        folder.chmod(0o700)
        path.chmod(0o600)
    assert sorted(p.name for p in folder.iterdir()) == [log.DATABASE]
