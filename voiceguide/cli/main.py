"""The entry point of the ``voiceguide`` command: it runs the click commands
(:mod:`voiceguide.cli.app`) and owns the process's ending.

Every error becomes one line and an exit status; Ctrl-C exits 130, SIGTERM 143 and
SIGHUP 129, each after the same clean-up; a broken pipe (output piped into ``head``)
exits 0; a hung audio system exits at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

import click

from voiceguide.audio import devices
from voiceguide.cli.app import cli
from voiceguide.cli.group import PipeClosed
from voiceguide.errors import EXIT_INTERRUPTED, Terminated


def _on_termination(signum, frame) -> None:
    """SIGTERM and SIGHUP: raise :class:`Terminated` (a KeyboardInterrupt) in the main
    thread, so they stop everything exactly as Ctrl-C does. A second one during the
    clean-up is ignored, so the clean-up finishes."""
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    raise Terminated(signum)


def _handle_termination() -> None:
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _on_termination)


def main(argv=None):
    """Entry point: errors become one line and an exit status, Ctrl-C exits 130,
    SIGTERM 143 and SIGHUP 129 (after the same clean-up as Ctrl-C)."""
    _handle_termination()
    try:
        code = cli.main(args=argv, prog_name="voiceguide", standalone_mode=False)
        sys.stdout.flush()   # a reader that closed the pipe early is seen here, not at exit
    except (click.exceptions.Abort, KeyboardInterrupt) as err:
        # click turns KeyboardInterrupt (and so Terminated) into Abort
        stop = err if isinstance(err, Terminated) else err.__cause__
        with contextlib.suppress(OSError):  # after SIGHUP the terminal may be gone
            if isinstance(stop, Terminated):
                click.echo(f"\nStopped by {signal.Signals(stop.signum).name}.", err=True)
            else:
                click.echo("\nInterrupted.", err=True)
        code = stop.exit_code if isinstance(stop, Terminated) else EXIT_INTERRUPTED
    except click.ClickException as err:
        err.show()
        code = err.exit_code
    except (BrokenPipeError, PipeClosed):
        code = _pipe_closed()
    _exit(code if isinstance(code, int) else 0)


def _pipe_closed() -> int:
    """The reader of standard output went away (``voiceguide list | head -1``): that
    is normal, so exit 0 in silence. Standard output then points at the null device,
    so the interpreter's last flush cannot fail again."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return 0


def _exit(code: int) -> None:
    """Exit; at once if the audio system hung, since its clean-up would hang too."""
    if devices.is_stuck():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
