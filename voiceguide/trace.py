"""An opt-in trace of what the player does, for tests and the benchmark.

Set ``VOICEGUIDE_TRACE=/path/file`` and each event is appended as one JSON line
with ``time.monotonic()`` (the same clock in every process on one machine).
"""

from __future__ import annotations

import json
import os
import time

_PATH = os.environ.get("VOICEGUIDE_TRACE")


def trace(event: str, **fields) -> None:
    """Record ``event`` with ``fields`` when tracing is on; otherwise do nothing."""
    if not _PATH:
        return
    fields.update(event=event, t=time.monotonic())
    with open(_PATH, "a", encoding="utf-8") as f:
        f.write(json.dumps(fields) + "\n")
