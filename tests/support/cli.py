"""The installed ``voiceguide`` command, run in a real subprocess, and the data the
tests run it on."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

#: The day every test runs on (conftest's ``user_dirs`` sets it).
FIXED_DAY = "2026-11-23"


#: A short routine for device tests: two exercises, one check-in between them.
TWO = ('title = "Two"\n[[exercise]]\ntechnique = "position-back"\nhold = 10\n'
       '[[exercise]]\ntechnique = "childs-pose"\nhold = 30\n')


def voiceguide_command() -> list[str]:
    """The installed console script, next to the running Python."""
    script = Path(sys.executable).parent / "voiceguide"
    return [str(script)] if script.exists() else [shutil.which("voiceguide") or "voiceguide"]


def run_voiceguide(*args, env=None, timeout=120, **kwargs) -> subprocess.CompletedProcess:
    """Run the installed ``voiceguide`` command in a real subprocess."""
    return subprocess.run(voiceguide_command() + [str(a) for a in args], capture_output=True,
                          text=True, timeout=timeout, env=env or os.environ.copy(),
                          stdin=subprocess.DEVNULL, **kwargs)
