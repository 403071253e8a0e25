"""How the process stops on a signal: SIGTERM, SIGHUP and SIGQUIT stop it as Ctrl-C does.

:func:`install` is called by the entry point before anything slow is imported, so
a signal from the first milliseconds on ends the program with its one line and exit
status, never a traceback or a silent death. This module imports nothing of
voiceguide's and nothing slow.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from typing import Iterator

#: The exit status after Ctrl-C: 128 + SIGINT.
EXIT_INTERRUPTED = 130

#: The signals that stop the program like Ctrl-C (those the platform has).
STOPPING = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGQUIT")
                 if hasattr(signal, name))


class Terminated(KeyboardInterrupt):
    """SIGTERM, SIGHUP or SIGQUIT, raised in the main thread like Ctrl-C's
    KeyboardInterrupt, so every clean-up that Ctrl-C runs (sound stopped, terminal
    restored, session recorded, temporary files removed) runs for them too.
    ``exit_code`` is 128 + the signal."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
        self.exit_code = 128 + signum

    @property
    def name(self) -> str:
        """The signal's name, e.g. ``SIGTERM``."""
        return signal.Signals(self.signum).name


_deferring = 0
_pending: int | None = None


def _on_signal(signum, frame) -> None:
    """Ctrl-C raises KeyboardInterrupt, a stopping signal :class:`Terminated` (a
    second stopping signal during the clean-up is then ignored, so the clean-up
    finishes); inside :func:`deferred`, only once it ends."""
    global _pending
    if _deferring:
        _pending = _pending or signum
        return
    _raise(signum)


def _raise(signum: int) -> None:
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    for other in STOPPING:
        signal.signal(other, signal.SIG_IGN)
    raise Terminated(signum)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold Ctrl-C and the stopping signals back for a few quick steps that must not
    be cut in two (making a file and noting that it was made); one that came
    meanwhile is raised as the block ends. Only with :func:`install`'s handlers."""
    global _deferring, _pending
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
        if not _deferring and _pending is not None:
            signum, _pending = _pending, None
            _raise(signum)


def stop_in(error: BaseException | None) -> KeyboardInterrupt | None:
    """The Ctrl-C or stopping signal behind ``error``: itself, or one that Python
    wrapped while handling it (a signal during a class's creation, say, comes out
    as a RuntimeError whose cause is the stop). None if it was no stop."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return error
        seen.add(id(error))
        error = error.__cause__ if error.__cause__ is not None else (
            None if error.__suppress_context__ else error.__context__)
    return None


def stopped_line(stop: KeyboardInterrupt) -> tuple[str, int]:
    """What to say when ``stop`` ended the program, and its exit status."""
    if isinstance(stop, Terminated):
        return f"Stopped by {stop.name}.", stop.exit_code
    return "Interrupted.", EXIT_INTERRUPTED


def say_stopped(stop: KeyboardInterrupt) -> int:
    """Say on standard error, on one line, why the program stopped; return its exit
    status. Nothing is said if standard error is gone (after SIGHUP, say)."""
    line, code = stopped_line(stop)
    try:
        sys.stderr.write(f"\n{line}\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass
    return code


def _uncaught(kind, value, traceback) -> None:
    """A stop that came where nothing catches it (between the entry point's lines,
    or wrapped in another error): its one line and exit status, not a traceback.
    Anything else as usual."""
    stop = stop_in(value)
    if stop is None:
        sys.__excepthook__(kind, value, traceback)
        return
    code = say_stopped(stop)
    try:
        sys.stdout.flush()
    except (OSError, ValueError, AttributeError):
        pass
    os._exit(code)


def install() -> None:
    """Make SIGTERM, SIGHUP and SIGQUIT raise :class:`Terminated`, and Ctrl-C raise
    KeyboardInterrupt; one that reaches the top level is its one line and exit status.
    A signal the parent set to be ignored stays ignored: under ``nohup`` a hang-up
    does not stop the program, nor Ctrl-C a background job."""
    sys.excepthook = _uncaught
    for signum in (signal.SIGINT, *STOPPING):
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _on_signal)


def for_worker() -> None:
    """In a worker process that shares the terminal (the recognizer): its parent
    handles every stop and then ends it, so Ctrl-C, Ctrl-\\ and a hang-up are
    ignored here, SIGTERM ends it silently, and nothing it raises is a stop line."""
    sys.excepthook = sys.__excepthook__
    for name in ("SIGINT", "SIGQUIT", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
