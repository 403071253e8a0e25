"""The clock of a PortAudio stream, mapped to :func:`time.monotonic`.

Both ends of the audio path (the output stream that plays the guide, the input
stream that hears the person) stamp their blocks with :class:`StreamClock`, so the
echo canceller can line up what was played with what the microphone heard.
"""

from __future__ import annotations

import time


class StreamClock:
    """Maps a PortAudio stream's clock (the times its callbacks are given) to
    :func:`time.monotonic`.

    A callback that stamps blocks with ``time.monotonic()`` is only as punctual
    as the Python thread that runs it, and that thread waits for the GIL while
    another one recognizes speech: its stamps then jitter by up to a third of
    a second, and every jump makes the echo canceller learn again. The times
    PortAudio gives the callback were taken before Python ran; this maps them.
    The offset is measured from outside the callback; :meth:`refresh`, called
    now and then, measures it again every :attr:`EVERY` seconds and so follows
    a wall clock that was set.
    """

    #: Seconds between two measures of the offset (see :meth:`refresh`).
    EVERY = 5.0

    def __init__(self, stream):
        self.stream = stream
        self.offset: float | None = None
        self._measured = 0.0
        self.measure()

    def refresh(self) -> None:
        """Measure the offset again if :attr:`EVERY` seconds have passed."""
        if time.monotonic() - self._measured >= self.EVERY:
            self.measure()

    def measure(self) -> None:
        """Measure the offset (the tightest of three readings); None if the host
        gives no stream time."""
        best = None
        try:
            for _ in range(3):
                before = time.monotonic()
                stream_time = self.stream.time
                after = time.monotonic()
                if stream_time and (best is None or after - before < best[0]):
                    best = (after - before, (before + after) / 2 - stream_time)
        except Exception:  # noqa: BLE001 - a host without stream times
            best = None
        self.offset = best[1] if best else None
        self._measured = time.monotonic()

    def at(self, stream_time: float, now: float, fallback: float) -> float:
        """The monotonic time of ``stream_time``, a time the callback was given;
        ``now + fallback`` when the host gives no usable times."""
        offset = self.offset
        if offset is None or not stream_time:
            return now + fallback
        at = stream_time + offset
        return at if abs(at - now) < 2.0 else now + fallback
