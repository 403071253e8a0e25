"""Single keys from the terminal, without Enter, read in a background thread.

On POSIX the terminal is switched to cbreak mode (termios) and restored on
stop; on Windows the console is read with ``msvcrt``, which needs no mode.
"""

from __future__ import annotations

import os
import queue
import select
import sys
import threading


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
        if sys.platform == "win32":
            target, args = self._run_windows, ()
        else:
            try:
                import termios
                import tty
                self._saved = termios.tcgetattr(fd)
                tty.setcbreak(fd)
            except (ImportError, OSError, ValueError):
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
            import termios
            try:
                termios.tcsetattr(self.stream.fileno(), termios.TCSADRAIN, self._saved)
            except (OSError, ValueError):
                pass
            self._saved = None

    def __enter__(self) -> "KeyReader":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
