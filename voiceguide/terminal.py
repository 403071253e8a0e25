"""The terminal: a one-line status that never wraps, text wrapped at words, and keys.

:class:`StatusLine` keeps one line at the bottom of the terminal. Its text is
cut to the terminal's width (with ``…``) so it can never wrap onto a second
line, the width is measured again at every update (so a resized terminal is
followed), and nothing is written when the fitted text is unchanged. Lines
printed above it (:meth:`StatusLine.note`) clear it first, so the screen never
holds two copies of it.

:class:`KeyReader` reads single keys without Enter in a background thread. On
POSIX the terminal is switched to cbreak mode (termios) and restored on stop; on
Windows the console is read with ``msvcrt``, which needs no mode.
"""

from __future__ import annotations

import os
import queue
import select
import shutil
import sys
import textwrap
import threading

try:
    import termios
    import tty
except ImportError:   # Windows: the console is read with msvcrt
    termios = tty = None

ELLIPSIS = "…"
FALLBACK_COLUMNS = 80
CLEAR_LINE = "\r\x1b[2K"


def terminal_columns(stream=None) -> int:
    """The width of the terminal behind ``stream`` (or the controlling one)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns or FALLBACK_COLUMNS
    except (AttributeError, OSError, ValueError):
        return shutil.get_terminal_size((FALLBACK_COLUMNS, 24)).columns


def fit(text: str, columns: int) -> str:
    """``text`` on one line of at most ``columns - 1`` characters, cut with ``…``.

    One column is left free: writing the last column makes some terminals move
    the cursor to the next line.
    """
    text = " ".join(text.split())
    room = max(1, columns - 1)
    if len(text) <= room:
        return text
    return text[:room - 1].rstrip() + ELLIPSIS


def wrap(text: str, stream=None) -> str:
    """``text`` wrapped at word boundaries to the terminal's width."""
    width = max(20, terminal_columns(stream) - 1)
    return "\n".join(textwrap.fill(paragraph, width) if paragraph.strip() else ""
                     for paragraph in text.split("\n"))


class StatusLine:
    """One status line on ``stream``, redrawn only when its fitted text changes.

    A terminal that hung up (its window closed, the ssh connection dropped) fails
    every write; from the first failure on nothing more is written (:attr:`gone`),
    and the hang-up's SIGHUP ends the program as usual.
    """

    def __init__(self, stream):
        self.stream = stream
        self.gone = False
        self._shown: str | None = None
        self._columns = 0

    def _write(self, text: str) -> bool:
        if self.gone:
            return False
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            self.gone = True
            return False
        return True

    def show(self, text: str) -> bool:
        """Show ``text`` (fitted to the width); True if anything was written."""
        columns = terminal_columns(self.stream)
        line = fit(text, columns)
        if line == self._shown and columns == self._columns:
            return False
        self._shown, self._columns = line, columns
        return self._write(CLEAR_LINE + line)

    def note(self, text: str) -> None:
        """Print a line above the status line (it is redrawn by the next show)."""
        self._write(CLEAR_LINE + wrap(text, self.stream) + "\n")
        self._shown = None

    def clear(self) -> None:
        """Remove the status line."""
        self._write(CLEAR_LINE)
        self._shown = None


class KeyReader:
    """Puts each key pressed on ``keys`` while active; restores the terminal on stop.

    Only works when standard input is a terminal (a console on Windows);
    :meth:`start` returns False otherwise and nothing is read.
    """

    def __init__(self, stream=None):
        self.stream = stream or sys.stdin
        self.keys: queue.Queue[str] = queue.Queue()
        self._saved = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        """Switch the terminal to single-key mode and start reading."""
        try:
            fd = self.stream.fileno()
            if not os.isatty(fd):
                return False
        except (OSError, ValueError, AttributeError):
            return False
        if termios is None:
            target, args = self._run_windows, ()
        else:
            try:
                self._saved = termios.tcgetattr(fd)
                tty.setcbreak(fd)
            except (OSError, ValueError, termios.error):
                return False
            target, args = self._run, (fd,)
        self._thread = threading.Thread(target=target, args=args, daemon=True,
                                        name="voiceguide-keys")
        self._thread.start()
        return True

    def _run(self, fd: int) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([fd], [], [], 0.05)
                if ready:
                    data = os.read(fd, 32)
                    if not data:
                        return
                    for char in data.decode("utf-8", "ignore"):
                        self.keys.put(char)
            except (OSError, ValueError):
                return

    def _run_windows(self) -> None:
        import msvcrt

        while not self._stop.is_set():
            if not msvcrt.kbhit():
                self._stop.wait(0.05)
                continue
            char = msvcrt.getwch()
            if char in ("\x00", "\xe0"):   # a function or arrow key: two codes, no meaning
                msvcrt.getwch()
                continue
            self.keys.put(char)

    def stop(self) -> None:
        """Stop reading and put the terminal back as it was."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=0.5)
        if self._saved is not None:
            try:
                termios.tcsetattr(self.stream.fileno(), termios.TCSADRAIN, self._saved)
            except (OSError, ValueError, termios.error):
                pass   # the terminal hung up (window closed, ssh dropped): nothing to restore
            self._saved = None

    def __enter__(self) -> "KeyReader":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
