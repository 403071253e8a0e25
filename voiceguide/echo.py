"""Acoustic echo cancellation: the guide's own voice taken out of the microphone.

The player knows every sample it sends to the device, so that signal (the
*reference*) can be subtracted from what the microphone hears, after an
adaptive filter has learnt the room's echo path (the loudspeaker, the room and
the device's latency). This module wraps the echo canceller of speexdsp
(Xiph's DSP library; Debian's ``libspeexdsp1``) through ``ctypes``, with
speexdsp's pre-processor after it to suppress the residual echo the adaptive
filter leaves.

The player does not feed it (ReferenceTap) and the listener does not use it yet: while the guide speaks the microphone is
still muted. What is missing for hearing "stop" during speech is a
double-talk gate, because what is left of the guide's own safety line ("...
numbness or tingling, stop and rest") can still be recognized as a stop sign.

Why speexdsp: it is a small, long-maintained C library that Debian ships, so
it needs no compiler and no download at install time. WebRTC's audio
processing module was the other candidate; on PyPI, ``webrtc-apm`` has no
wheel for this platform and ``aec-audio-processing`` is a source package that
needs a C++ toolchain to build, so neither can be installed the way
voiceguide is installed. The measured echo reduction of this canceller is
printed by ``tests/test_echo.py``.
"""

from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np

from voiceguide.errors import DeviceError

_SET_SAMPLING_RATE = 24          # SPEEX_ECHO_SET_SAMPLING_RATE (speex_echo.h)
_PREPROCESS_SET_DENOISE = 0      # SPEEX_PREPROCESS_SET_DENOISE (speex_preprocess.h)
_PREPROCESS_SET_ECHO_STATE = 24  # SPEEX_PREPROCESS_SET_ECHO_STATE
_PREPROCESS_SET_ECHO_SUPPRESS = 26
_PREPROCESS_SET_ECHO_SUPPRESS_ACTIVE = 28

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
    lib.speex_echo_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    lib.speex_echo_cancellation.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                                            ctypes.c_void_p]
    lib.speex_preprocess_state_init.restype = ctypes.c_void_p
    lib.speex_preprocess_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.speex_preprocess_state_destroy.argtypes = [ctypes.c_void_p]
    lib.speex_preprocess_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    lib.speex_preprocess_run.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
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
        self._pre = lib.speex_preprocess_state_init(frame, rate)
        value = ctypes.c_int(rate)
        lib.speex_echo_ctl(self._echo, _SET_SAMPLING_RATE, ctypes.byref(value))
        lib.speex_preprocess_ctl(self._pre, _PREPROCESS_SET_ECHO_STATE, ctypes.c_void_p(self._echo))
        off = ctypes.c_int(0)
        lib.speex_preprocess_ctl(self._pre, _PREPROCESS_SET_DENOISE, ctypes.byref(off))
        self._out = np.zeros(frame, np.int16)

    def process(self, mic: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """One frame of microphone audio without the echo of ``reference`` (int16)."""
        mic = np.ascontiguousarray(mic, dtype=np.int16)
        reference = np.ascontiguousarray(reference, dtype=np.int16)
        if len(mic) != self.frame or len(reference) != self.frame:
            raise ValueError(f"frames must be {self.frame} samples")
        out = np.empty(self.frame, np.int16)
        self._lib.speex_echo_cancellation(self._echo, mic.ctypes.data, reference.ctypes.data,
                                          out.ctypes.data)
        self._lib.speex_preprocess_run(self._pre, out.ctypes.data)
        return out

    def process_all(self, mic: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """A whole recording, frame by frame (the tail shorter than a frame is dropped)."""
        n = min(len(mic), len(reference)) // self.frame * self.frame
        return np.concatenate([self.process(mic[i:i + self.frame], reference[i:i + self.frame])
                               for i in range(0, n, self.frame)] or [np.zeros(0, np.int16)])

    def close(self) -> None:
        """Free the C state."""
        if self._echo:
            self._lib.speex_preprocess_state_destroy(self._pre)
            self._lib.speex_echo_state_destroy(self._echo)
            self._echo = self._pre = None

    def __del__(self):
        self.close()


class ReferenceTap:
    """What the player sends to the device, kept for the echo canceller.

    Written by the audio callback (one producer) and read by the listener's
    thread (one consumer). :meth:`write` never blocks and never allocates: it
    copies the block into a preallocated ring and then advances a counter; the
    reader only looks at samples the counter says are complete. Each block is
    stamped with the ``time.monotonic()`` at which its first sample is heard
    (the callback's DAC time, taken from the stream's time info).

    Not connected to the player yet (see the module docstring).
    """

    def __init__(self, rate: float, seconds: float = 8.0, marks: int = 1024):
        self.rate = float(rate)
        self._ring = np.zeros(int(rate * seconds), np.float32)
        self._mark_sample = np.zeros(marks, np.int64)   # ring counter at a block's start
        self._mark_time = np.zeros(marks, np.float64)   # when that sample is heard
        self.written = 0       # samples written so far (published last)
        self._marks = 0

    def write(self, block: np.ndarray, heard_at: float) -> None:
        """Append one output block (float32, device rate) heard from ``heard_at``."""
        n, size = len(block), len(self._ring)
        start = self.written % size
        first = min(n, size - start)
        self._ring[start:start + first] = block[:first]
        if first < n:
            self._ring[:n - first] = block[first:n]
        index = self._marks % len(self._mark_sample)
        self._mark_sample[index] = self.written
        self._mark_time[index] = heard_at
        self._marks += 1
        self.written += n      # published after the samples are in place

    def read(self, at: float, count: int, rate: float) -> np.ndarray | None:
        """``count`` samples at ``rate`` of what was heard from time ``at``.

        Zeros where nothing was played; None when that audio is not written yet
        (or no longer in the ring).
        """
        marks = min(self._marks, len(self._mark_sample))
        if marks == 0:
            return np.zeros(count, np.float32)
        order = np.argsort(self._mark_time[:marks])
        times, samples = self._mark_time[:marks][order], self._mark_sample[:marks][order]
        wanted = at + np.arange(count) / rate
        # the sample heard at each wanted time: from the latest block started before it
        index = np.searchsorted(times, wanted, side="right") - 1
        position = samples[np.maximum(index, 0)] + (wanted - times[np.maximum(index, 0)]) * self.rate
        if position[-1] >= self.written:
            return None
        size = len(self._ring)
        valid = (index >= 0) & (position >= 0) & (position > self.written - size)
        # beyond a block's end and before the next block: silence was played
        out = np.zeros(count, np.float32)
        pos = position[valid].astype(np.int64)
        out[valid] = self._ring[pos % size]
        return out
