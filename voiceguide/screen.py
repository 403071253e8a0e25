"""The terminal: a one-line status that never wraps, and text wrapped at words.

:class:`StatusLine` keeps one line at the bottom of the terminal. Its text is
cut to the terminal's width (with ``…``) so it can never wrap onto a second
line, the width is measured again at every update (so a resized terminal is
followed), and nothing is written when the fitted text is unchanged. Lines
printed above it (:meth:`StatusLine.note`) clear it first, so the screen never
holds two copies of it.
"""

from __future__ import annotations

import os
import shutil
import textwrap

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
    """One status line on ``stream``, redrawn only when its fitted text changes."""

    def __init__(self, stream):
        self.stream = stream
        self._shown: str | None = None
        self._columns = 0

    def show(self, text: str) -> bool:
        """Show ``text`` (fitted to the width); True if anything was written."""
        columns = terminal_columns(self.stream)
        line = fit(text, columns)
        if line == self._shown and columns == self._columns:
            return False
        self.stream.write(CLEAR_LINE + line)
        self.stream.flush()
        self._shown, self._columns = line, columns
        return True

    def note(self, text: str) -> None:
        """Print a line above the status line (it is redrawn by the next show)."""
        self.stream.write(CLEAR_LINE + wrap(text, self.stream) + "\n")
        self.stream.flush()
        self._shown = None

    def clear(self) -> None:
        """Remove the status line."""
        self.stream.write(CLEAR_LINE)
        self.stream.flush()
        self._shown = None
