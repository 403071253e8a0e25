"""Shared fixtures: every test runs with its own per-user folders.

The speech clip cache is shared by the whole session (synthesizing is the slow
part and clips are content-addressed, so sharing cannot leak state between tests).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# A shell without job control starts background jobs with Ctrl-C (SIGINT) ignored, and
# an ignored signal stays ignored in every child: the commands the tests interrupt
# would never see it. Handled here (a handler is reset to the default in a child),
# they get Ctrl-C as from a terminal, however the tests were started.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("xdg-cache")


#: The day every test runs on (see :func:`user_dirs`).
FIXED_DAY = "2026-11-23"


@pytest.fixture(scope="session")
def runtime_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("xdg-runtime")
    path.chmod(0o700)
    return path


@pytest.fixture(autouse=True)
def user_dirs(tmp_path, monkeypatch, shared_cache, runtime_dir):
    """Point the per-user config, data, cache and runtime folders at temporary ones.

    Without a runtime folder, every PortAudio start under a test's own ``HOME``
    (its ALSA pulse plugin) leaves a ``/tmp/pulse-*`` folder behind.

    The day is fixed too: it picks the wording of the opening, the check-in
    question and the stop message, so it moves every later line of a routine,
    and the audio tests (where the user speaks over which of the guide's lines)
    would change from one day to the next. Tests of the day's wording set their own.
    """
    config = tmp_path / "config"
    data = tmp_path / "data"
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime_dir))
    monkeypatch.setenv("VOICEGUIDE_DATE", FIXED_DAY)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.setenv("XDG_CACHE_HOME", str(shared_cache))
    return {"config": config / "voiceguide", "data": data / "voiceguide",
            "cache": shared_cache / "voiceguide"}


#: A short routine for device tests: two exercises, one check-in between them.
TWO = ('title = "Two"\n[[exercise]]\ntechnique = "position-back"\nhold = 10\n'
       '[[exercise]]\ntechnique = "childs-pose"\nhold = 30\n')


@pytest.fixture
def two(tmp_path) -> Path:
    """The :data:`TWO` routine as a file."""
    path = tmp_path / "two.toml"
    path.write_text(TWO)
    return path


def voiceguide_command() -> list[str]:
    """The installed console script, next to the running Python."""
    script = Path(sys.executable).parent / "voiceguide"
    return [str(script)] if script.exists() else [shutil.which("voiceguide") or "voiceguide"]


def run_voiceguide(*args, env=None, timeout=120, **kwargs) -> subprocess.CompletedProcess:
    """Run the installed ``voiceguide`` command in a real subprocess."""
    return subprocess.run(voiceguide_command() + [str(a) for a in args], capture_output=True,
                          text=True, timeout=timeout, env=env or os.environ.copy(),
                          stdin=subprocess.DEVNULL, **kwargs)


@pytest.fixture(scope="session")
def pulse(tmp_path_factory):
    """A running PulseAudio server with a null sink (real-time clock)."""
    from tests.audio import PulseServer

    server = PulseServer(tmp_path_factory.mktemp("pulse")).start()
    yield server
    server.stop()
