"""The entry point of the ``voiceguide`` command: it runs the click commands
(:mod:`voiceguide.cli.app`) and owns the process's ending.

The signal handlers are installed first, before anything slow is imported, so a
signal in the first milliseconds ends the program as it would later. Every error
becomes one line and an exit status; Ctrl-C exits 130, SIGTERM 143, SIGHUP 129 and
SIGQUIT 131, each after the same clean-up; a broken pipe (output piped into ``head``)
exits 0; a hung audio system exits at once.
"""

from __future__ import annotations

import os
import sys

from voiceguide import signals

signals.install()   # first: click and the commands take a tenth of a second to import


def main(argv=None):
    """Entry point: errors become one line and an exit status, Ctrl-C exits 130, and
    SIGTERM, SIGHUP and SIGQUIT 128 + the signal (after the same clean-up as Ctrl-C)."""
    try:
        import click

        from voiceguide.cli.app import cli
        from voiceguide.cli.group import PipeClosed
    except BaseException as err:   # a signal while the program was still loading
        if signals.stop_in(err) is None:
            raise
        _exit(signals.say_stopped(signals.stop_in(err)))
    try:
        code = cli.main(args=argv, prog_name="voiceguide", standalone_mode=False)
        sys.stdout.flush()   # a reader that closed the pipe early is seen here, not at exit
    except click.exceptions.Abort as err:   # click's form of KeyboardInterrupt
        code = signals.say_stopped(signals.stop_in(err) or KeyboardInterrupt())
    except click.ClickException as err:
        err.show()
        code = err.exit_code
    except (BrokenPipeError, PipeClosed):
        code = _pipe_closed()
    except SystemExit:
        raise
    except BaseException as err:   # a stop wrapped in another error, or a real bug
        if signals.stop_in(err) is None:
            raise
        code = signals.say_stopped(signals.stop_in(err))
    _exit(code if isinstance(code, int) else 0)


def _pipe_closed() -> int:
    """The reader of standard output went away (``voiceguide list | head -1``): that
    is normal, so exit 0 in silence. Standard output then points at the null device,
    so the interpreter's last flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    return 0


def _exit(code: int) -> None:
    """Exit; at once if the audio system hung, since its clean-up would hang too."""
    from voiceguide.audio import devices   # light: PortAudio itself loads only when used

    if devices.is_stuck():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
