"""Acoustic echo cancellation: the guide's own voice taken out of the microphone.

The player knows every sample it sends to the device, so that signal (the
*reference*) can be subtracted from what the microphone hears, after an
adaptive filter has learnt the room's echo path (the loudspeaker, the room and
the device's latency). This module wraps the echo canceller of speexdsp
(Xiph's DSP library; Debian's ``libspeexdsp1``) through ``ctypes``. Only the
adaptive filter is used: speexdsp's pre-processor suppresses the residual echo
only together with its noise suppression, and the recognizer and the barge-in
gates are measured on the filter's output alone.

The player writes every block it plays into a :class:`ReferenceTap`, stamped
with the time it is heard; a :class:`ReferenceStream` gives the listener, for
each microphone block, what was heard when that block was captured, at the
microphone's rate; :class:`EchoDelay` measures from the sound itself where the
echo comes, so that the reference can follow a device that reports its latency
wrongly. :mod:`voiceguide.hearing.bargein` puts the pieces together.

Why speexdsp: it is a small, long-maintained C library that Debian ships, so
it needs no compiler and no download at install time. WebRTC's audio
processing module was the other candidate; on PyPI, ``webrtc-apm`` has no
wheel for this platform and ``aec-audio-processing`` is a source package that
needs a C++ toolchain to build, so neither can be installed the way
voiceguide is installed. The measured echo reduction of this canceller is
printed by ``tests/test_echo.py``.
"""

from __future__ import annotations

import collections
import ctypes
import ctypes.util

import numpy as np

from voiceguide.audio import pcm
from voiceguide.audio.loudness import fast_length
from voiceguide.errors import DeviceError
from voiceguide.trace import trace

_SET_SAMPLING_RATE = 24          # SPEEX_ECHO_SET_SAMPLING_RATE (speex_echo.h)

_library = None


def _speexdsp():
    """The loaded speexdsp library; DeviceError when it is not installed."""
    global _library
    if _library is not None:
        return _library
    name = ctypes.util.find_library("speexdsp") or "libspeexdsp.so.1"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        raise DeviceError("echo cancellation needs the speexdsp library "
                          "(Debian: libspeexdsp1; scripts/setup.sh installs it)") from None
    lib.speex_echo_state_init.restype = ctypes.c_void_p
    lib.speex_echo_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.speex_echo_state_destroy.argtypes = [ctypes.c_void_p]
    lib.speex_echo_state_reset.argtypes = [ctypes.c_void_p]
    lib.speex_echo_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    lib.speex_echo_cancellation.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                                            ctypes.c_void_p]
    _library = lib
    return lib


def available() -> bool:
    """Whether the speexdsp library can be loaded. Never raises."""
    try:
        _speexdsp()
        return True
    except DeviceError:
        return False


class EchoCanceller:
    """Removes the reference (what was played) from the microphone signal.

    Args:
        rate: sample rate of both signals, Hz.
        frame: samples per processing frame (about 10-20 ms).
        tail: seconds of echo the adaptive filter covers (the room's reverberation
            plus any error in the latency estimate).

    Feed equal-length int16 frames of microphone and reference audio, aligned in
    time as well as the output latency is known, to :meth:`process`.
    """

    def __init__(self, rate: int = 16000, frame: int = 160, tail: float = 0.2):
        lib = _speexdsp()
        self.rate = rate
        self.frame = frame
        self._lib = lib
        self._echo = lib.speex_echo_state_init(frame, int(tail * rate))
        value = ctypes.c_int(rate)
        lib.speex_echo_ctl(self._echo, _SET_SAMPLING_RATE, ctypes.byref(value))

    def process(self, mic: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """One frame of microphone audio without the echo of ``reference`` (int16)."""
        mic = np.ascontiguousarray(mic, dtype=np.int16)
        reference = np.ascontiguousarray(reference, dtype=np.int16)
        if len(mic) != self.frame or len(reference) != self.frame:
            raise ValueError(f"frames must be {self.frame} samples")
        out = np.empty(self.frame, np.int16)
        self._lib.speex_echo_cancellation(self._echo, mic.ctypes.data, reference.ctypes.data,
                                          out.ctypes.data)
        return out

    def reset(self) -> None:
        """Forget what was learnt of the echo path (it changed)."""
        self._lib.speex_echo_state_reset(self._echo)

    def process_all(self, mic: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """A whole recording, frame by frame (the tail shorter than a frame is dropped)."""
        n = min(len(mic), len(reference)) // self.frame * self.frame
        return np.concatenate([self.process(mic[i:i + self.frame], reference[i:i + self.frame])
                               for i in range(0, n, self.frame)] or [np.zeros(0, np.int16)])

    def close(self) -> None:
        """Free the C state."""
        if self._echo:
            self._lib.speex_echo_state_destroy(self._echo)
            self._echo = None

    def __del__(self):
        self.close()


class ReferenceTap:
    """What the player sends to the device, kept for the echo canceller.

    Written by the audio callback (one producer) and read by the listener's
    thread (one consumer). :meth:`write` never blocks and never allocates: it
    copies the block into a preallocated ring and then advances a counter; the
    reader only looks at samples the counter says are complete. Each block is
    stamped with the ``time.monotonic()`` at which its first sample is heard
    (the callback's DAC time, taken from the stream's time info), so the
    reader can find what was heard at any moment.

    One tap serves every player of a session (the intro, the daily-limit
    question, the routine): each calls :meth:`start` with its stream's rate.
    """

    def __init__(self, seconds: float = 16.0, marks: int = 1024):
        self.seconds = seconds
        self.rate = 0.0
        self._ring = np.zeros(0, np.float32)
        self._mark_sample = np.zeros(marks, np.int64)   # ring counter at a block's start
        self._mark_time = np.zeros(marks, np.float64)   # when that sample is heard
        self._mark_stop_word = np.zeros(marks, bool)    # the guide says a stop word in it
        self.written = 0       # samples written so far (published last)
        self._marks = 0

    def start(self, rate: float) -> None:
        """Get ready for a stream at ``rate`` Hz (before it starts; not from the callback)."""
        if float(rate) != self.rate:
            self._ring = np.zeros(int(rate * self.seconds), np.float32)
            self._marks = 0
            self.written = 0
            self.rate = float(rate)

    def write(self, block: np.ndarray, heard_at: float, stop_word: bool = False) -> None:
        """Append one output block (float32, the stream's rate) heard from ``heard_at``;
        ``stop_word``: the guide says a stop word (or a stop sign) in it."""
        n, size = len(block), len(self._ring)
        if n == 0 or size == 0:
            return
        start = self.written % size
        first = min(n, size - start)
        self._ring[start:start + first] = block[:first]
        if first < n:
            self._ring[:n - first] = block[first:n]
        index = self._marks % len(self._mark_sample)
        self._mark_sample[index] = self.written
        self._mark_time[index] = heard_at
        self._mark_stop_word[index] = stop_word
        self._marks += 1
        self.written += n      # published after the samples are in place

    def position_at(self, at: float) -> float | None:
        """The (fractional) sample counter heard at time ``at``; None before anything.

        Between blocks (after a stream ended, before the next began) it runs on
        past :attr:`written`, where :meth:`samples` gives silence.
        """
        marks = min(self._marks, len(self._mark_sample))
        if marks == 0:
            return None
        times = self._mark_time[:marks]
        earlier = np.flatnonzero(times <= at)
        if len(earlier) == 0:
            return float(self._mark_sample[:marks].min()) - (times.min() - at) * self.rate
        index = earlier[np.argmax(times[earlier])]
        return float(self._mark_sample[index]) + (at - times[index]) * self.rate

    def says_stop_word(self, start: float, end: float) -> bool:
        """Whether a block heard between ``start`` and ``end`` (monotonic times) holds
        a line in which the guide says a stop word."""
        marks = min(self._marks, len(self._mark_sample))
        times = self._mark_time[:marks]
        block = 0.2    # longer than any output block: a block started before start
        within = (times >= start - block) & (times <= end)
        return bool(np.any(self._mark_stop_word[:marks][within]))

    def samples(self, start: int, count: int) -> np.ndarray:
        """``count`` samples from counter ``start``: silence where nothing is (or still) kept."""
        out = np.zeros(count, np.float32)
        size, written = len(self._ring), self.written
        # the oldest half of the ring may be being overwritten by the writer right now
        lo, hi = max(start, written - size // 2, 0), min(start + count, written)
        if hi > lo:
            index = np.arange(lo, hi) % size
            out[lo - start:hi - start] = self._ring[index]
        return out


_JUMP_BLOCKS = 3     # blocks a jump of the capture time must hold to count


class ReferenceStream:
    """The reference for each microphone block: what was heard when it was captured.

    Reads the tap contiguously and resamples it to the microphone's rate with a
    streaming resampler (no clicks between blocks). The times devices report
    jitter by tens of milliseconds from one callback to the next (a sound
    server delivers blocks in bursts), and every jump of the reference makes
    the echo canceller start learning again; so it only re-anchors when the
    capture time and the read position disagree by more than ``jump`` seconds
    for a few blocks in a row (a new player started), or, in the median over
    the last ``window`` blocks, by enough to take the echo out of the
    canceller's reach (the two devices' clocks drifted apart): more than
    ``early`` seconds sooner than the lead allows for (the echo would come
    before its reference), or ``late`` seconds later (the end of the room's
    echo would fall past the filter's tail). Single blocks stamped 0.1 s off,
    as happens around a seek, move nothing. A smaller drift is left to the
    canceller: on a machine whose two cores were kept busy by other programs,
    the median of the stamps wandered 15-27 ms either way while the echo
    stayed where it was, and re-anchoring on each wander (with a 15 ms limit
    either way) moved the reference four times in 12 s, the canceller
    learning the room again after every move.

    The stamps are only as true as the latency the device reports: :meth:`move`
    takes the reference to where the echo was measured to be (:class:`EchoDelay`).

    The reference is taken ``lead`` seconds ahead of the capture time: the
    echo canceller can only model an echo that comes after its reference, and
    the latencies devices report are estimates, so the reference is made to
    come a little early (the filter's tail covers the rest of the path).
    """

    def __init__(self, tap: ReferenceTap, rate: int, lead: float = 0.04,
                 jump: float = 0.25, early: float = 0.03, late: float = 0.06,
                 window: int = 64):
        self.tap = tap
        self.rate = rate
        self.lead = lead
        self.jump = jump
        self.early = early
        self.late = late
        self._resampler = None
        self._tap_rate = 0.0
        self._cursor = 0          # next tap sample to resample
        self._anchor = 0.0        # tap position of the first output after re-anchoring
        self._given = 0           # outputs given since re-anchoring
        self._fifo = np.zeros(0, np.float32)
        self._offsets: collections.deque = collections.deque(maxlen=window)
        self.anchors = 0          # how often the reference was moved
        self.correction = 0.0     # seconds the echo comes later than the stamps say
        self.echo_found_until = -float("inf")   # see found_in_reach

    def move(self, seconds: float) -> None:
        """The echo comes ``seconds`` later than the reference given so far (sooner
        if negative), as measured from the sound (:class:`EchoDelay`): from the
        next block on, the reference is taken that much further back."""
        self.correction += seconds
        self._resampler = None    # re-anchor at once

    def found_in_reach(self, captured_at: float, seconds: float = 10.0) -> None:
        """The echo was just measured where the canceller reaches it (:class:`EchoDelay`):
        for ``seconds`` after ``captured_at`` a drift of the stamps moves nothing,
        for the sound says the echo is where it was. Such a drift (30 ms, in a
        test run alone on a two-core machine) once moved the reference right
        before a check-in question; the canceller, learning again, let the
        question through, and the stop said after it was lost in it."""
        self.echo_found_until = captured_at + seconds

    def next(self, captured_at: float, count: int) -> np.ndarray:
        """``count`` reference samples heard from ``captured_at`` on (float32)."""
        import soxr

        wanted = self.tap.position_at(captured_at + self.lead - self.correction)
        if wanted is None:
            return np.zeros(count, np.float32)
        tap_rate = self.tap.rate
        here = self._anchor + self._given * tap_rate / self.rate
        offset = (here - wanted) / tap_rate if tap_rate else 0.0
        self._offsets.append(offset)
        recent = list(self._offsets)[-_JUMP_BLOCKS:]
        # one block's stamp can be off by 0.1 s around a seek: a jump counts when
        # it holds for a few blocks, and drift is judged on the median
        jumped = self._resampler is None or tap_rate != self._tap_rate or (
            len(recent) == _JUMP_BLOCKS and min(abs(o) for o in recent) > self.jump)
        median = float(np.median(self._offsets))
        drifted = len(self._offsets) == self._offsets.maxlen and \
            captured_at > self.echo_found_until and \
            not -self.early <= median <= self.late
        if jumped or drifted:
            trace("reference-anchor", offset=round(offset, 4), median=round(median, 4))
            start = wanted if jumped else here - median * tap_rate
            self._offsets.clear()
            self.anchors += 1
            self._tap_rate = tap_rate
            self._resampler = soxr.ResampleStream(tap_rate, self.rate, 1, dtype="float32")
            self._cursor = int(round(start))
            self._anchor, self._given = float(self._cursor), 0
            self._fifo = np.zeros(0, np.float32)
        step = int(np.ceil(count * tap_rate / self.rate)) + 16
        while len(self._fifo) < count:
            chunk = self.tap.samples(self._cursor, step)
            self._cursor += step
            self._fifo = np.concatenate([self._fifo, self._resampler.resample_chunk(chunk)])
        out, self._fifo = self._fifo[:count], self._fifo[count:]
        self._given += count
        return out


class EchoDelay:
    """How long after its reference the guide's echo really comes, measured
    from the sound itself.

    The reference is placed by the times the devices report, and a device can
    report its latency wrongly (a Bluetooth speaker's codec delay is an
    estimate, and some hosts leave it out). When the echo then comes before
    its reference, or so late that the room's echo falls past the filter's
    tail, the canceller cannot take it out, and the guide's voice is never
    cancelled. This keeps the last few seconds of the microphone and of the
    reference it was given and, every :attr:`EVERY` seconds in which the guide
    sounded, cross-correlates them: the echo is the reference, delayed and
    filtered by the room, so the correlation peaks at its delay; a person's
    voice and the room's noise do not correlate with the reference.

    :meth:`feed` returns a delay only when it is sure of it: the peak stands
    out (its normalised correlation is at least :attr:`PEAK`), and
    :attr:`AGREE` measures in a row found it within :attr:`SPREAD` seconds of
    each other.
    """

    #: Seconds of microphone audio in one measure.
    WINDOW = 1.0
    #: Seconds between two measures.
    EVERY = 1.0
    #: Delays looked for (s): the echo this much before its reference, or after it.
    SOONEST, LATEST = -0.3, 1.0
    #: Normalised correlation from which a peak counts.
    PEAK = 0.25
    #: Measures that must agree, and by how much (s).
    AGREE, SPREAD = 3, 0.01
    #: RMS (full scale) of the reference under which the guide is not sounding.
    SOUNDING = 10 ** (-40 / 20)

    def __init__(self, rate: int):
        self.rate = rate
        self._before = int(-self.SOONEST * rate)   # reference kept after the window
        self._after = int(self.LATEST * rate)      # and before it
        self._size = int(self.WINDOW * rate) + self._before + self._after
        self._blocks: collections.deque = collections.deque()
        self._kept = 0
        self._since = 0
        self._found: collections.deque = collections.deque(maxlen=self.AGREE)

    def reset(self) -> None:
        """Forget what was kept and found (the reference moved)."""
        self._blocks.clear()
        self._kept = self._since = 0
        self._found.clear()

    def feed(self, mic: np.ndarray, reference: np.ndarray) -> float | None:
        """One block of microphone audio (int16) and the reference given for it
        (float32, same length and rate): the echo's delay behind the reference
        in seconds when it is sure of one now, else None."""
        self._blocks.append((mic, reference))
        self._kept += len(mic)
        self._since += len(mic)
        while self._kept - len(self._blocks[0][0]) >= self._size:
            self._kept -= len(self._blocks.popleft()[0])
        if self._kept < self._size or self._since < self.EVERY * self.rate:
            return None
        self._since = 0
        delay = self._measure()
        if delay is None:
            self._found.clear()
            return None
        self._found.append(delay)
        if len(self._found) == self.AGREE and max(self._found) - min(self._found) <= self.SPREAD:
            return float(np.median(self._found))
        return None

    def _measure(self) -> float | None:
        """The delay of the echo in the kept audio, if a clear peak shows it.

        Measured at about 8 kHz (pairs of samples averaged from 16 kHz): a
        delay still to an eighth of a millisecond, for a third of the CPU."""
        step = max(1, self.rate // 8000)
        window, after = int(self.WINDOW * self.rate) // step, self._after // step
        mic = np.concatenate([m for m, _ in self._blocks])[-self._size:]
        mic = pcm.to_float(mic, np.float64)
        ref = np.concatenate([r for _, r in self._blocks])[-self._size:].astype(np.float64)
        usable = len(ref) // step * step
        mic = mic[:usable].reshape(-1, step).mean(axis=1)[after:after + window]
        ref = ref[:usable].reshape(-1, step).mean(axis=1)
        if np.sqrt(np.mean(ref[after:after + window] ** 2)) < self.SOUNDING:
            return None
        # correlation[k] pairs the microphone's sample i with the reference's k + i;
        # a transform as long as the reference leaves those sums whole
        size = fast_length(len(ref))
        spectrum = np.fft.rfft(ref, size) * np.conj(np.fft.rfft(mic, size))
        correlation = np.fft.irfft(spectrum, size)[:len(ref) - window + 1]
        energy = np.concatenate([[0.0], np.cumsum(ref ** 2)])
        norms = np.sqrt(np.maximum(energy[window:] - energy[:-window], 0.0)) * np.linalg.norm(mic)
        # a stretch of the reference far quieter than the rest is no echo's source
        normalised = np.abs(correlation) / np.maximum(norms, 0.5 * norms.max() + 1e-12)
        k = int(np.argmax(normalised))
        if normalised[k] < self.PEAK:
            return None
        return (after - k) * step / self.rate

