"""History in real SQLite: written as it goes, survives SIGKILL, damage set aside."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys

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
