"""One rule for exit statuses, walked through every kind of error path of the
installed command: 1 a file or folder that cannot be read or written, 2 bad input,
3 no audio device or speech engine. Each ends with one line and no traceback.

Permission denied cannot be made for root (the tests may run as root), so the I/O
errors here are the kernel's own others: a file where a folder must be, a folder
where a file must be, a symbolic-link loop, and a file-size limit (EFBIG, as a
full disk gives ENOSPC).
"""

from __future__ import annotations

import os
import re
import resource
import signal
from pathlib import Path

import pytest

from tests.support.cli import TWO, run_voiceguide

REPO = Path(__file__).resolve().parent.parent
PROGRESS = ("Preparing voice", "Rendering", "Listening")


def _routine(tmp, text=TWO, name="mine.toml"):
    path = tmp / name
    path.write_text(text)
    return path


def _latin(tmp):
    path = tmp / "latin.toml"
    path.write_bytes(b'title = "Caf\xe9"\n')
    return path


def _fifo(tmp):
    path = tmp / "fifo.toml"
    os.mkfifo(path)
    return path


def _loop(tmp):
    path = tmp / "loop.toml"
    path.symlink_to(path)
    return path


def _dangling(tmp):
    path = tmp / "linked.wav"
    path.symlink_to(tmp / "nowhere.wav")
    return path


def _file_at(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("a file where a folder must be\n")


def _small_files() -> None:
    """In the child: files may grow to 4 MB (writes past it fail with EFBIG): enough
    for every speech clip, not for a six-minute WAV."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4_000_000, 4_000_000))


# (name, status, set-up(tmp, dirs) -> args, a word the line must hold, run options)
CASES = [
    ("a bad option value", 2, lambda t, d: ["play", "quick", "--rate", "fast"], "rate", {}),
    ("an unknown routine", 2, lambda t, d: ["show", "nosuch"], "nosuch", {}),
    ("a routine file that does not exist", 2,
     lambda t, d: ["show", t / "gone.toml"], "gone.toml", {}),
    ("a routine file with a bad key", 2,
     lambda t, d: ["show", _routine(t, TWO + "tempo = 3\n")], "tempo", {}),
    ("a routine file that is not UTF-8", 2,
     lambda t, d: ["show", _latin(t)], "UTF-8", {}),
    ("a FIFO for a routine file", 2, lambda t, d: ["show", _fifo(t)], "regular file", {}),
    ("an unknown setting", 2, lambda t, d: ["config", "set", "tempo", "3"], "tempo", {}),
    ("an export onto an existing file", 2,
     lambda t, d: ["export", _routine(t), "-o", _routine(t, "x", "taken.wav")], "--force", {}),
    ("an export onto a link to nothing", 2,
     lambda t, d: ["export", _routine(t), "-o", _dangling(t)], "does not exist", {}),
    ("an export in an unknown format", 2,
     lambda t, d: ["export", _routine(t), "-o", t / "out.xyz"], "format", {}),
    ("a routine file behind a symbolic-link loop", 1,
     lambda t, d: ["show", _loop(t)], "loop.toml", {}),
    ("a file where the history folder must be", 1,
     lambda t, d: (_file_at(d["data"]), ["history"])[1], "voiceguide", {}),
    ("a folder where the history file must be", 1,
     lambda t, d: ((d["data"] / "history.sqlite3").mkdir(parents=True), ["history"])[1],
     "history.sqlite3", {}),
    ("a file where the settings folder must be", 1,
     lambda t, d: (_file_at(d["config"]), ["config", "set", "rate", "150"])[1],
     "voiceguide", {}),
    ("a file where the routines folder must be", 1,
     lambda t, d: (_file_at(d["config"] / "routines"), ["new", "mine"])[1], "routines", {}),
    ("a file where the speech cache must be", 1,
     lambda t, d: ["export", _routine(t), "-o", t / "out.wav"], "cache",
     {"cache_is_a_file": True}),
    ("an export larger than the files may grow", 1,
     lambda t, d: ["export", "quick", "-o", t / "out.wav"], "out.wav",
     {"preexec_fn": _small_files}),
    ("no audio output device", 3, lambda t, d: ["play", _routine(t)], "export",
     {"no_sound_card": True}),
]


@pytest.mark.parametrize("name, status, setup, word, how", CASES,
                         ids=[case[0] for case in CASES])
def test_every_error_path_has_its_status_and_one_line(tmp_path, user_dirs, name, status,
                                                      setup, word, how):
    env = os.environ.copy()
    if how.get("cache_is_a_file"):
        _file_at(tmp_path / "cache-file" / "x")
        env["XDG_CACHE_HOME"] = str(tmp_path / "cache-file" / "x")
    if how.get("no_sound_card"):
        home = tmp_path / "home"
        home.mkdir()
        (home / ".asoundrc").write_text("pcm.!default { type hw card 42 }\n")
        env["HOME"] = str(home)
        env.pop("PULSE_SERVER", None)
    args = setup(tmp_path, user_dirs)
    result = run_voiceguide(*args, env=env, timeout=300,
                            **({"preexec_fn": how["preexec_fn"]} if "preexec_fn" in how
                               else {}))
    assert result.returncode == status, (name, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines()
             if line.strip() and not line.lstrip("\r").startswith(PROGRESS)]
    assert len(lines) == 1 and lines[0].startswith("voiceguide: "), result.stderr
    assert word in lines[0], lines[0]
    assert list(tmp_path.glob(".*.part")) == list(tmp_path.glob(".*.lock")) == []


def test_the_readme_states_the_rule_the_tests_walk():
    """The README's exit-status section names each status the cases above give."""
    text = (REPO / "README.md").read_text()
    section = text.split("## Exit statuses", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`(\d+)`", section))
    assert {str(case[1]) for case in CASES} <= named
    assert "permission" in section and "bad input" in section
