"""Hardening (issue 11): full disks, damaged clips, signals, hostile files, privacy.

Full disks are real: a small tmpfs mounted for the test (this needs root, as on the
build machines; without it those tests are skipped and say why).
"""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.conftest import run_voiceguide
from voiceguide import history as log


# ------------------------------------------------------------------ helpers

@contextlib.contextmanager
def small_filesystem(folder: Path, size: str = "512k"):
    """A real tmpfs of ``size`` mounted on ``folder`` for the block."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700",
                              "tmpfs", str(folder)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill (needs root): "
                    f"{mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> None:
    """Write into ``folder`` until its file system is full."""
    fd = os.open(folder / f"filler-{uuid.uuid4().hex}", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# ---------------------------------------------- 1. history on a full disk

def _history_with_sessions(path: Path, count: int = 3) -> None:
    with log.History(path) as db:
        for _ in range(count):
            session = db.start("morning", "Morning", {})
            db.pain(session, "baseline", 6)
            db.end(session, "completed")


def test_full_disk_never_sets_an_intact_history_aside(tmp_path):
    with small_filesystem(tmp_path / "data") as data:
        env = dict(os.environ, XDG_DATA_HOME=str(data))
        path = data / "voiceguide" / log.DATABASE
        _history_with_sessions(path)
        intact = path.read_bytes()
        fill(data)
        for _ in range(2):  # the second run, in the same second, used to destroy it
            result = run_voiceguide("history", env=env)
            assert result.returncode == 1, result.stderr
            assert "Traceback" not in result.stderr
            assert str(path) in result.stderr and "full" in result.stderr
            assert len(result.stderr.strip().splitlines()) == 1
        assert not [p for p in path.parent.iterdir() if ".damaged-" in p.name]
        assert path.read_bytes() == intact


def test_a_set_aside_name_never_overwrites_an_existing_file(tmp_path):
    path = tmp_path / "h.sqlite3"
    first = log.set_aside_name(path)
    first.write_bytes(b"an earlier damaged copy")
    second = log.set_aside_name(path)
    assert second != first and not second.exists()
    path.write_bytes(b"garbage" * 1000)
    with log.History(path) as db:
        assert db.warnings
    assert first.read_bytes() == b"an earlier damaged copy"
    assert second.read_bytes() == b"garbage" * 1000


def test_a_locked_history_is_an_error_and_is_not_set_aside(tmp_path):
    import sqlite3

    path = tmp_path / "h.sqlite3"
    _history_with_sessions(path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(log.StorageError, match="h.sqlite3"):
            log.History(path, wait=0.2).start("quick", "Quick", {})
    finally:
        holder.close()
    assert not [p for p in tmp_path.iterdir() if ".damaged-" in p.name]


# ------------------------------------------------------------- 10. privacy

def test_history_settings_routines_are_private_whatever_the_umask(user_dirs):
    env = dict(os.environ)
    old = os.umask(0o022)
    try:
        _history_with_sessions(log.database_path(), 1)
        assert run_voiceguide("config", "set", "pace", "slow", env=env).returncode == 0
        assert run_voiceguide("new", "mine", env=env).returncode == 0
    finally:
        os.umask(old)
    data = user_dirs["data"]
    assert mode(data) == 0o700 and mode(data / log.DATABASE) == 0o600
    config = user_dirs["config"]
    assert mode(config) == 0o700 and mode(config / "settings.toml") == 0o600
    assert mode(config / "routines") == 0o700
    assert mode(config / "routines" / "mine.toml") == 0o600


def test_config_set_keeps_the_settings_file_mode(user_dirs):
    path = user_dirs["config"] / "settings.toml"
    path.parent.mkdir(parents=True)
    path.write_text('pace = "slow"\n')
    os.chmod(path, 0o640)
    assert run_voiceguide("config", "set", "rate", "150").returncode == 0
    assert mode(path) == 0o640 and "rate = 150" in path.read_text()
