"""Shared fixtures: every test runs with its own per-user folders.

The speech clip cache is shared by the whole session (synthesizing is the slow
part and clips are content-addressed, so sharing cannot leak state between tests).
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.support.cli import FIXED_DAY, TWO
from tests.support.terminal import Terminal

REPO = Path(__file__).resolve().parent.parent

# A shell without job control starts background jobs with Ctrl-C (SIGINT) ignored,
# nohup ignores SIGHUP, and an ignored signal stays ignored in every child (the
# command keeps it ignored on purpose): the commands the tests interrupt would never
# see it. Handled here (a handler is reset to the default in a child), they get the
# signals as from a terminal, however the tests were started.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
for _name in ("SIGTERM", "SIGHUP", "SIGQUIT"):
    if signal.getsignal(getattr(signal, _name)) is signal.SIG_IGN:
        signal.signal(getattr(signal, _name), signal.SIG_DFL)


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("xdg-cache")


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


@pytest.fixture
def two(tmp_path) -> Path:
    """The :data:`TWO` routine as a file."""
    path = tmp_path / "two.toml"
    path.write_text(TWO)
    return path


@pytest.fixture(scope="session")
def pulse(tmp_path_factory):
    """A running PulseAudio server with a null sink (real-time clock)."""
    from tests.support.audio import PulseServer

    server = PulseServer(tmp_path_factory.mktemp("pulse")).start()
    yield server
    server.stop()


@pytest.fixture
def terminal(pulse, tmp_path, user_dirs):
    """Start the command on a pseudo-terminal, playing to the PulseAudio null sink.

    The first-run notice is turned off, so play starts with the routine itself.
    """
    user_dirs["config"].mkdir(parents=True, exist_ok=True)
    (user_dirs["config"] / "settings.toml").write_text('intro = "never"\nlisten = "off"\n')
    opened = []

    def start(*args, stderr=None):
        t = Terminal(args, pulse.env(), tmp_path / f"trace{len(opened)}.jsonl", stderr)
        opened.append(t)
        return t

    yield start
    for t in opened:
        if t.process.poll() is None:
            t.process.kill()
        t.close()
