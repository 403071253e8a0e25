"""Speech synthesis: each utterance becomes a tight, level, cached clip.

Every clip is mono int16 at :data:`~voiceguide.timeline.SAMPLE_RATE`, with leading and
trailing near-silence trimmed to exactly :data:`MARGIN_SECONDS`, and peak-normalized to
:data:`PEAK_DBFS`. Clips are stored in a :class:`~voiceguide.clipcache.ClipCache`, so a
routine is synthesized once and later runs start instantly.

The engine is pyttsx3: espeak-ng on Linux, NSSpeechSynthesizer (nsss) on macOS, SAPI5
on Windows. Nothing is synthesized in the calling process, because (all checked with
pyttsx3 2.99 and espeak-ng 1.51):

* pyttsx3's espeak driver is fragile when used repeatedly. Its run loop polls a flag
  that espeak's own thread clears from a ctypes callback; the first ``runAndWait``
  returns before the file is written; a failed ``setProperty`` is only reported through
  an ``error`` event; hangs on repeated ``runAndWait``/``save_to_file`` are a long-known
  problem (nateshmbhat/pyttsx3 #194, #126, #219); and it ``print``s "Audio saved to ..."
  on stdout. Worse, it runs espeak in asynchronous mode, where a rate set just before an
  utterance sometimes does not apply to it (about 1 clip in 20 came out at 200 wpm).
* espeak-ng is not deterministic within one process: static state in its wave
  generator (the pitch "flutter" index, gain control, cycle counters) carries over from
  one utterance to the next, so the same text gives different samples (and lengths a
  few ms apart) depending on what was said before. A fresh process always gives the
  same samples.

So synthesis runs in worker processes (plain subprocesses, see :class:`_Worker`) whose
fds 0, 1 and 2 point at /dev/null at the OS level, so neither pyttsx3 nor libespeak-ng
can print anything the user sees.

On Linux with espeak, a worker is a *template* (:data:`_TEMPLATE_WORKER_CODE`): a lean
``python -S`` process (standard library and pyttsx3's ctypes binding only, no numpy:
about 30 ms to start) that initializes espeak-ng once in synchronous mode and selects
its voice and rate, without ever speaking. For each clip it ``fork``s a single-use
child from that pristine state (copy-on-write: about 1 ms), the child synthesizes the
clip into memory, hands the raw samples back and exits. Every clip thus starts from
exactly the same engine state: same text, voice and rate give the same samples, byte
for byte, in any process and in any order. A template serves one voice and rate; asked
for others, the pool replaces it with a new one rather than reconfigure it (a fresh
process is the only state known to be clean). A hung child is killed after a per-clip
timeout while its worker carries on. The parent finishes the clips (:func:`finish_clip`)
with the numpy it has loaded anyway, sends each worker a few jobs ahead
(:data:`PIPELINE`) so it never waits for the parent, and has a background thread write
them to the cache (:meth:`ClipCache.batch`), each durable before it becomes visible.
About 4-5 ms of CPU a clip in all, two clips at a time on two cores.

(Should pyttsx3's binding lack a function used here, a worker running this module
forks a child per clip that initializes pyttsx3's espeak driver itself: slower, as
deterministic.) Elsewhere (macOS, Windows) a worker runs :func:`_worker_entry` and keeps
one pyttsx3 engine for all its clips; if it hangs, the parent kills and restarts it
(there, output is only as deterministic as the platform's engine). Two workers run when
many clips are needed (:data:`PARALLEL_MIN_CLIPS`), one for a handful.
"""

from __future__ import annotations

import collections
import contextlib
import difflib
import importlib
import json
import marshal
import os
import pickle
import queue
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from voiceguide.clipcache import ClipCache, canonical_text, clip_key
from voiceguide.errors import DeviceError, InputError, VoiceguideError
from voiceguide.timeline import SAMPLE_RATE

#: Speech rate (words per minute) when none is given.
DEFAULT_RATE = 160

#: Near-silence kept before the first and after the last audible sample.
MARGIN_SECONDS = 0.030
#: Level of a clip's highest peak.
PEAK_DBFS = -3.0
#: Samples quieter than this, relative to the clip's peak, count as silence when trimming.
SILENCE_DB = -40.0
#: Length of the fade applied at each end of a clip (inside the margin).
FADE_SECONDS = 0.005

#: At least this many clips to synthesize before a second worker is started.
PARALLEL_MIN_CLIPS = 16
#: Most workers ever used (the app targets two-core machines).
MAX_WORKERS = 2
#: How long a worker may take to start up and probe the engine.
STARTUP_TIMEOUT = 60.0
#: Attempts per clip (hang or crash) before giving up.
MAX_ATTEMPTS = 3
#: Worker restarts (crashes, hangs) tolerated in one call before giving up.
MAX_RESTARTS = 6
#: Jobs sent to a worker ahead of its answers: the next ones wait in its pipe, so it
#: never idles while the parent finishes and stores a clip.
PIPELINE = 3

_MARGIN = round(MARGIN_SECONDS * SAMPLE_RATE)
_FADE = round(FADE_SECONDS * SAMPLE_RATE)

_DEFAULT_DRIVERS = {"darwin": "nsss", "win32": "sapi5"}


@dataclass(frozen=True)
class VoiceInfo:
    """One voice the engine offers: ``id`` (what :class:`Speech` takes), a human
    ``name`` and the ``languages`` it speaks."""

    id: str
    name: str
    languages: tuple[str, ...] = ()


# -- engine availability -------------------------------------------------------------

def default_driver() -> str:
    """The pyttsx3 driver for this platform: ``nsss`` (macOS), ``sapi5`` (Windows),
    ``espeak`` (everything else)."""
    return _DEFAULT_DRIVERS.get(sys.platform, "espeak")


def install_hint(driver: str | None = None) -> str:
    """The command that installs what ``driver`` (default: this platform's) needs."""
    driver = driver or default_driver()
    if driver == "nsss":
        return "pip install pyobjc"
    if driver == "sapi5":
        return "pip install comtypes pywin32"
    # espeak, or a driver name pyttsx3 does not know: espeak-ng is what to install
    if sys.platform == "darwin":
        return "brew install espeak-ng"
    if sys.platform == "win32":
        return "install eSpeak NG from https://github.com/espeak-ng/espeak-ng/releases"
    return ("sudo apt-get install espeak-ng (Debian/Ubuntu; elsewhere your "
            "distribution's espeak-ng package)")


def _one_line(exc: BaseException | str) -> str:
    """The first non-empty line of an error, without traceback noise."""
    text = str(exc).strip()
    if not text and isinstance(exc, BaseException):
        text = type(exc).__name__
    return text.splitlines()[0].strip() if text else "unknown error"


def _engine_error(driver: str, reason: str) -> DeviceError:
    return DeviceError(f"no usable speech engine ({reason}); install it with: "
                       f"{install_hint(driver)}")


def check_engine(driver: str | None = None) -> str:
    """Check, cheaply and in this process, that pyttsx3 and ``driver`` can load.

    Imports pyttsx3 and the driver module (for espeak that loads libespeak-ng but does
    not start it). Returns the driver name; raises :class:`DeviceError` with a one-line
    message naming the install command if something is missing.
    """
    driver = driver or default_driver()
    try:
        import pyttsx3  # noqa: F401
    except Exception as exc:  # ImportError, or a broken install
        raise DeviceError(f"no usable speech engine (pyttsx3 cannot be imported: "
                          f"{_one_line(exc)}); install it with: pip install pyttsx3") from None
    try:
        importlib.import_module(f"pyttsx3.drivers.{driver}")
    except ModuleNotFoundError as exc:
        missing = getattr(exc, "name", "") or ""
        if missing.startswith("pyttsx3.drivers"):
            reason = f"pyttsx3 has no driver {driver!r}"
        else:
            reason = f"the {driver} driver needs {missing or _one_line(exc)}"
        raise _engine_error(driver, reason) from None
    except Exception as exc:
        reason = _one_line(exc)
        if driver == "espeak":
            reason = "libespeak-ng is not installed"
        raise _engine_error(driver, reason) from None
    return driver


# -- audio processing (runs in the workers) ------------------------------------------

def _resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    """Band-limited (FFT) resampling of a 1-D float signal from ``src`` to ``dst`` Hz."""
    n_out = int(round(len(x) * dst / src))
    if len(x) == 0 or n_out == 0:
        return np.zeros(n_out)
    spectrum = np.fft.rfft(x)
    bins = n_out // 2 + 1
    out = np.zeros(bins, dtype=complex)
    keep = min(bins, len(spectrum))
    out[:keep] = spectrum[:keep]
    return np.fft.irfft(out, n_out) * (n_out / len(x))


def finish_clip(samples: np.ndarray, rate: int) -> np.ndarray:
    """Turn raw engine output into a clip: mono int16 at SAMPLE_RATE, trimmed, level.

    ``samples`` is int16 (frames,) or (frames, channels). Channels are averaged, the
    signal resampled to SAMPLE_RATE if needed, everything before the first and after the
    last sample louder than :data:`SILENCE_DB` below the peak is cut to exactly
    :data:`MARGIN_SECONDS` (zero-padded if the engine gave less), both ends fade over
    :data:`FADE_SECONDS`, and the peak is scaled to :data:`PEAK_DBFS`. A silent input
    gives ``2 * margin`` samples of silence. Deterministic.
    """
    raw = np.asarray(samples)
    if raw.ndim == 2 and raw.shape[1] == 1:
        raw = raw[:, 0]  # mono: averaging one channel changes nothing
    if (raw.ndim == 1 and raw.dtype.kind == "i" and raw.itemsize <= 2
            and (rate == SAMPLE_RATE or not len(raw))):
        return _finish_mono16(raw)
    x = np.asarray(raw, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    x = x / 32768.0
    if rate != SAMPLE_RATE and len(x):
        x = _resample(x, int(rate), SAMPLE_RATE)
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak < 1e-4:  # nothing audible
        return np.zeros(2 * _MARGIN, dtype=np.int16)
    loud = np.flatnonzero(np.abs(x) > peak * 10 ** (SILENCE_DB / 20))
    first, last = int(loud[0]), int(loud[-1])
    start, end = first - _MARGIN, last + 1 + _MARGIN
    y = np.zeros(end - start)
    lo, hi = max(start, 0), min(end, len(x))
    y[lo - start:hi - start] = x[lo:hi]
    return _fade_and_level(y, peak)


def _finish_mono16(s: np.ndarray) -> np.ndarray:
    """:func:`finish_clip` for mono 16-bit samples already at SAMPLE_RATE (what espeak-ng
    gives): the same arithmetic, bit for bit, but the peak and the loud span are found
    on the integers and only the kept span is converted to float (several times faster).
    """
    top = max(int(s.max()), -int(s.min())) if len(s) else 0
    peak = top / 32768.0
    if peak < 1e-4:  # nothing audible
        return np.zeros(2 * _MARGIN, dtype=np.int16)
    # The general path tests |s / 32768| > (top / 32768) * t. Scaling by a power of two
    # is exact in binary floating point, so that is exactly |s| > top * t.
    limit = top * 10 ** (SILENCE_DB / 20)
    loud = (s > limit) | (s < -limit)
    first = int(np.argmax(loud))
    last = len(s) - 1 - int(np.argmax(loud[::-1]))
    start, end = first - _MARGIN, last + 1 + _MARGIN
    y = np.zeros(end - start)
    lo, hi = max(start, 0), min(end, len(s))
    kept = y[lo - start:hi - start]
    kept[:] = s[lo:hi]
    kept /= 32768.0
    return _fade_and_level(y, peak)


def _fade_and_level(y: np.ndarray, peak: float) -> np.ndarray:
    """Fade both ends of ``y`` (the kept span with its margins, float, changed in place)
    and scale ``peak`` to PEAK_DBFS: the clip as int16."""
    ramp = np.linspace(0.0, 1.0, _FADE, endpoint=False)
    y[:_FADE] *= ramp
    y[len(y) - _FADE:] *= ramp[::-1]
    y *= (10 ** (PEAK_DBFS / 20)) * 32767.0 / peak
    np.round(y, out=y)
    np.clip(y, -32768, 32767, out=y)
    return y.astype(np.int16)


def _read_audio(path: str) -> tuple[np.ndarray, int]:
    """Read an engine's output file: int16 samples (frames, channels) and the rate."""
    import wave

    try:
        with wave.open(path, "rb") as w:
            if w.getsampwidth() == 2 and w.getcomptype() == "NONE":
                channels, rate = w.getnchannels(), w.getframerate()
                data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
                return data.reshape(-1, channels).astype(np.int16), rate
    except (wave.Error, EOFError):
        pass
    import soundfile  # AIFF (macOS), other WAV flavours (Windows)

    data, rate = soundfile.read(path, dtype="int16", always_2d=True)
    return data, int(rate)


# -- the engines, as used inside a worker or a single-use child ----------------------

def _voice_tuple(vid, name, languages) -> tuple[str, str, tuple[str, ...]]:
    langs = []
    for lang in languages or []:
        if isinstance(lang, bytes):
            lang = lang.decode("utf-8", "ignore")
        lang = str(lang).strip("\x00 ")
        if lang:
            langs.append(lang)
    return str(vid), str(name or vid), tuple(langs)


class _EspeakDirect:
    """espeak-ng through pyttsx3's own ctypes binding (``pyttsx3.drivers._espeak``), in
    *synchronous* mode, instead of pyttsx3's ``EspeakDriver``.

    The driver starts espeak in asynchronous mode, where a property set just before an
    utterance sometimes does not apply to it: measured here, about 1 clip in 20 came out
    at the default 200 wpm (or espeak's 175) instead of the requested rate. It also
    waits in a polling loop for a flag set from espeak's thread, and prints to stdout.
    In synchronous mode the samples arrive through the callback on this thread before
    ``Synth`` returns: no thread, no loop, no temporary file, settings always applied.

    The template worker (:data:`_TEMPLATE_WORKER_CODE`, which cannot import this module)
    makes the same calls in the same order; keep the two in step, or every cached clip
    changes (then bump :data:`~voiceguide.clipcache.FORMAT_VERSION`).
    """

    NEEDED = ("Initialize", "SetSynthCallback", "SetParameter", "SetVoiceByName", "Synth",
              "ListVoices", "GetCurrentVoice", "AUDIO_OUTPUT_SYNCHRONOUS", "RATE",
              "ENDPAUSE", "CHARS_UTF8")

    @classmethod
    def available(cls) -> bool:
        """True if this pyttsx3's espeak binding has everything used here."""
        try:
            from pyttsx3.drivers import _espeak
        except Exception:
            return False
        return all(hasattr(_espeak, name) for name in cls.NEEDED)

    def __init__(self):
        import ctypes

        from pyttsx3.drivers import _espeak

        self._es = _espeak
        self.sample_rate = _espeak.Initialize(_espeak.AUDIO_OUTPUT_SYNCHRONOUS, 1000)
        if self.sample_rate <= 0:
            raise RuntimeError("espeak-ng could not be initialized (is espeak-ng-data "
                               "installed?)")
        self._chunks: list[bytes] = []

        def on_audio(wav, numsamples, events) -> int:
            if wav and numsamples > 0:
                self._chunks.append(ctypes.string_at(wav, numsamples * 2))
            return 0

        _espeak.SetSynthCallback(on_audio)  # the binding keeps the ctypes thunk alive
        if self._current() is None:  # nothing selected yet: pick what pyttsx3 would
            for name in (b"gmw/en", b"en"):
                if _espeak.SetVoiceByName(name) == 0:
                    break

    def _current(self) -> str | None:
        current = self._es.GetCurrentVoice()
        if current and current.contents.identifier:
            return current.contents.identifier.decode("utf-8").lower()
        return None

    def voices(self) -> tuple[list[tuple[str, str, tuple[str, ...]]], str | None]:
        """([(id, name, languages)], default voice id), with pyttsx3's ids."""
        found = []
        for v in self._es.ListVoices(None):
            langs = [v.languages[1:].decode("utf-8", "ignore")] if v.languages else []
            found.append(_voice_tuple(v.identifier.decode("utf-8").lower(),
                                      v.name.decode("utf-8"), langs))
        return found, self._current()

    def synthesize(self, text: str, voice: str | None, rate: int, path: str,
                   timeout: float) -> tuple[np.ndarray, int]:
        """(int16 samples (frames, 1), sample rate) for ``text``."""
        es = self._es
        if voice and es.SetVoiceByName(str(voice).encode("utf-8")) != 0:
            raise LookupError(f"the speech engine has no voice {voice!r}")
        es.SetParameter(es.RATE, int(rate), 0)
        self._chunks = []
        status = es.Synth(text.encode("utf-8"), flags=es.ENDPAUSE | es.CHARS_UTF8)
        if status != 0:
            raise RuntimeError(f"espeak-ng could not speak the text (status {status})")
        data = np.frombuffer(b"".join(self._chunks), dtype="<i2").astype(np.int16)
        return data.reshape(-1, 1), self.sample_rate


class _Engine:
    """One pyttsx3 engine, driven with ``save_to_file`` and an event for completion.

    Used for nsss (macOS) and sapi5 (Windows), and for espeak only if pyttsx3's
    espeak binding lacks what :class:`_EspeakDirect` needs.
    """

    def __init__(self, driver: str):
        import pyttsx3

        self.driver = driver
        self.engine = pyttsx3.init(driver)
        self.done = threading.Event()
        self.errors: list[str] = []
        self.engine.connect("finished-utterance", self._finished)
        self.engine.connect("error", self._error)

    def _finished(self, **_kwargs) -> None:
        self.done.set()

    def _error(self, exception=None, **_kwargs) -> None:
        self.errors.append(_one_line(exception) if exception is not None else "error")

    def voices(self) -> tuple[list[tuple[str, str, tuple[str, ...]]], str | None]:
        """([(id, name, languages)], default voice id)."""
        found = [_voice_tuple(v.id, v.name, v.languages)
                 for v in self.engine.getProperty("voices")]
        try:
            default = self.engine.getProperty("voice")
        except Exception:
            default = None
        return found, (str(default) if default else None)

    def synthesize(self, text: str, voice: str | None, rate: int, path: str,
                   timeout: float) -> tuple[np.ndarray, int]:
        """Speak ``text`` into ``path`` and read it back: (int16 samples, rate)."""
        self.done.clear()
        self.errors.clear()
        if os.path.exists(path):
            os.unlink(path)
        if voice:
            self.engine.setProperty("voice", voice)
        self.engine.setProperty("rate", int(rate))
        if self.driver == "espeak":  # apply the settings before the utterance starts
            self.engine.runAndWait()
            sync = getattr(importlib.import_module("pyttsx3.drivers._espeak"),
                           "Synchronize", None)
            if sync is not None:
                sync()
        self.engine.save_to_file(text, path)
        self.engine.runAndWait()
        # espeak's first runAndWait returns before the file is written: wait for the
        # finished-utterance event. Other drivers finish inside runAndWait.
        if not self.done.wait(timeout if self.driver == "espeak" else 0.5):
            if self.driver == "espeak" or not os.path.exists(path):
                raise TimeoutError("the speech engine did not finish")
        if self.errors:
            message = self.errors[0]
            if voice and "voice" in message.lower():
                raise LookupError(f"the speech engine cannot use voice {voice!r}")
            raise RuntimeError(message)
        samples, sr = _read_audio(path)
        os.unlink(path)
        return samples, sr


def _make_engine(driver: str):
    """The engine object for ``driver`` (see :class:`_EspeakDirect`, :class:`_Engine`)."""
    if driver == "espeak" and _EspeakDirect.available():
        return _EspeakDirect()
    return _Engine(driver)


def _child_voices(driver: str):
    return _make_engine(driver).voices()


def _child_synthesize(driver: str, text: str, voice: str | None, rate: int, path: str,
                      timeout: float):
    samples, sr = _make_engine(driver).synthesize(text, voice, rate, path, timeout)
    return samples.tobytes(), samples.shape[1], sr


class _ChildLost(Exception):
    """A single-use child hung (and was killed) or crashed without an answer."""


def _in_child(timeout: float, func, *args):
    """Run ``func(*args)`` in a forked single-use child; return its result.

    The result comes back pickled through a pipe. Raises :class:`_ChildLost` if the
    child takes longer than ``timeout`` (it is killed) or dies without answering;
    re-raises the child's error as RuntimeError/LookupError/TimeoutError with its
    one-line message.
    """
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns
        try:
            os.close(r)
            try:
                result = (True, func(*args))
            except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent
                result = (False, (type(exc).__name__, _one_line(exc)))
            _write_all(w, pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
        finally:
            os._exit(0)
    os.close(w)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    timed_out = False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([r], [], [], left)
            if ready:
                chunk = os.read(r, 1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
    finally:
        os.close(r)
        if timed_out:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        os.waitpid(pid, 0)
    if timed_out:
        raise _ChildLost("the speech engine hung")
    try:
        ok, value = pickle.loads(b"".join(chunks))
    except Exception:  # nothing or half an answer: it crashed
        raise _ChildLost("the speech engine crashed") from None
    if ok:
        return value
    kind, message = value
    raise {"LookupError": LookupError, "TimeoutError": TimeoutError}.get(kind, RuntimeError)(
        message)


_FRAME = struct.Struct("<Q")


def _send(write: Callable[[bytes], object], obj) -> None:
    """Write one length-prefixed :mod:`marshal` frame (the workers' protocol: only
    plain values travel, and marshal needs no import in a lean worker)."""
    data = marshal.dumps(obj)
    write(_FRAME.pack(len(data)) + data)


def _recv(stream) -> object:
    """Read one frame written by :func:`_send`; EOFError at the end of the stream."""
    header = stream.read(8)
    if len(header) < 8:
        raise EOFError
    (size,) = _FRAME.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return marshal.loads(data)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


# The template worker (Linux, espeak-ng): ``python -S -c`` with this code. It imports
# only the standard library and pyttsx3's ctypes binding (no numpy, no voiceguide, no
# site hooks: about 30 ms of CPU to start instead of about 280), sets espeak-ng up once
# for its voice and rate without speaking, and forks a single-use child per clip from
# that state. Its configuration comes in the environment, marshal, hex-encoded:
# {"path": sys.path, "binding": the file of pyttsx3.drivers._espeak, "voice": id or
# None, "rate": wpm, "voices": whether to list the voices}.
#
# parent → worker: ("synth", key, text, voice, rate, timeout) frames, or None to stop.
# worker → parent: ("ready", voices or None, default voice) or ("fatal", message) once,
# then per job, in order: ("raw", key, int16 bytes, sample rate), ("error", key, kind,
# message) or ("lost", key) (the child hung and was killed, or crashed).
_TEMPLATE_WORKER_CODE = r'''
import gc, marshal, os, select, signal, struct, sys, time, warnings
gc.disable()  # nothing here makes cycles; a collection in a child would copy every page
warnings.simplefilter("ignore")  # e.g. about fork() with espeak's idle thread around
cfg = marshal.loads(bytes.fromhex(os.environ.pop("VOICEGUIDE_WORKER_CONFIG")))
sys.path[:] = cfg["path"]
commands = os.fdopen(os.dup(0), "rb")
replies = os.dup(1)
null = os.open(os.devnull, os.O_RDWR)
for fd in (0, 1, 2):
    os.dup2(null, fd)
os.close(null)
sys.stdout = sys.stderr = open(os.devnull, "w")
try:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
except (ValueError, OSError):
    pass
FRAME = struct.Struct("<Q")
try:  # pipes that hold a whole clip: one write, and the writer goes on at once
    import fcntl
    PIPE_SIZE = fcntl.F_SETPIPE_SZ
    fcntl.fcntl(replies, PIPE_SIZE, 1 << 20)
except Exception:
    PIPE_SIZE = None


def write_all(fd, parts):
    total = sum(len(p) for p in parts)
    done = os.writev(fd, parts)
    if done < total:
        view = memoryview(b"".join(parts))[done:]
        while view:
            view = view[os.write(fd, view):]


def send(obj):
    data = marshal.dumps(obj)
    write_all(replies, [FRAME.pack(len(data)), data])


def one_line(exc):
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0].strip()


exiting = []  # children that answered and are on their way out, reaped later


def in_child(timeout, func, *args):
    """What func(*args) returns, (meta, [bytes]), computed in a forked single-use child.
    Returns (meta, the bytes joined) or None if the child took longer than timeout (it
    is killed) or died before answering in full."""
    for pid in exiting[:]:
        try:
            gone = os.waitpid(pid, 0 if len(exiting) > 4 else os.WNOHANG)[0]
        except ChildProcessError:
            gone = True
        if gone:
            exiting.remove(pid)
    r, w = os.pipe()
    if PIPE_SIZE is not None:
        try:
            fcntl.fcntl(w, PIPE_SIZE, 1 << 20)
        except OSError:
            pass
    deadline = time.monotonic() + timeout
    pid = os.fork()
    if pid == 0:  # the child: never returns
        try:
            os.close(r)
            meta, payload = func(*args)
            head = marshal.dumps((meta, sum(len(p) for p in payload)))
            write_all(w, [FRAME.pack(len(head)), head] + payload)
        finally:
            os._exit(0)
    os.close(w)
    buf = bytearray()
    meta = need = None
    try:
        while need is None or len(buf) < need:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if not select.select([r], [], [], left)[0]:
                continue
            chunk = os.read(r, 1 << 20)
            if not chunk:
                break
            buf += chunk
            if need is None and len(buf) >= 8:
                size = FRAME.unpack_from(buf)[0]
                if len(buf) >= 8 + size:
                    meta, length = marshal.loads(buf[8:8 + size])
                    start = 8 + size
                    need = start + length
    finally:
        os.close(r)
        if need is not None and len(buf) >= need:
            exiting.append(pid)  # it answered and exits by itself
        else:  # hung (or crashed): make sure it is gone
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
            os.waitpid(pid, 0)
    if need is None or len(buf) < need:
        return None
    return meta, memoryview(buf)[start:need]


try:
    import ctypes
    try:  # the binding alone: pyttsx3's package would import its whole engine too
        from importlib.machinery import SourceFileLoader
        loader = SourceFileLoader("_voiceguide_espeak", cfg["binding"])
        es = type(sys)(loader.name)
        es.__file__, es.__loader__ = loader.path, loader
        loader.exec_module(es)
        for name in ("Initialize", "SetSynthCallback", "SetVoiceByName", "SetParameter",
                     "Synth", "ListVoices", "GetCurrentVoice"):
            getattr(es, name)
    except Exception:
        from pyttsx3.drivers import _espeak as es

    # exactly what _EspeakDirect does before a clip, in the same order
    sample_rate = es.Initialize(es.AUDIO_OUTPUT_SYNCHRONOUS, 1000)
    if sample_rate <= 0:
        raise RuntimeError("espeak-ng could not be initialized (is espeak-ng-data "
                           "installed?)")
    chunks = []

    def on_audio(wav, numsamples, events):
        if wav and numsamples > 0:
            chunks.append(ctypes.string_at(wav, numsamples * 2))
        return 0

    es.SetSynthCallback(on_audio)

    def current():
        v = es.GetCurrentVoice()
        if v and v.contents.identifier:
            return v.contents.identifier.decode("utf-8").lower()
        return None

    if current() is None:
        for name in (b"gmw/en", b"en"):
            if es.SetVoiceByName(name) == 0:
                break
    default = current()
    voice, rate = cfg["voice"], int(cfg["rate"])
    voice_error = None
    if voice and es.SetVoiceByName(str(voice).encode("utf-8")) != 0:
        voice_error = "the speech engine has no voice %r" % (voice,)
    else:
        es.SetParameter(es.RATE, rate, 0)
    # Nothing is ever spoken in this process: every clip starts from this state.

    def list_voices():
        found = []
        for v in es.ListVoices(None):
            langs = []
            if v.languages:
                lang = v.languages[1:].decode("utf-8", "ignore").strip("\x00 ")
                if lang:
                    langs.append(lang)
            vid = v.identifier.decode("utf-8").lower()
            found.append((vid, v.name.decode("utf-8") or vid, tuple(langs)))
        return ("ready", found, default), []

    if cfg["voices"]:  # in a child too: listing reads voice files into espeak's state
        got = in_child(60.0, list_voices)
        if got is None:
            raise RuntimeError("the speech engine crashed while listing its voices")
        ready = got[0]
    else:
        ready = ("ready", None, default)
except BaseException as exc:
    try:
        send(("fatal", one_line(exc)))
    finally:
        os._exit(0)


def synthesize(key, text):
    try:
        status = es.Synth(text.encode("utf-8"), flags=es.ENDPAUSE | es.CHARS_UTF8)
        if status != 0:
            return ("error", key, "engine",
                    "espeak-ng could not speak the text (status %d)" % status), []
        return ("raw", key, sample_rate), chunks
    except BaseException as exc:
        return ("error", key, "engine", one_line(exc)), []


send(ready)
while True:
    try:
        header = commands.read(8)
        if len(header) < 8:
            break
        msg = marshal.loads(commands.read(FRAME.unpack(header)[0]))
    except (EOFError, OSError, ValueError):
        break
    if msg is None:
        break
    _, key, text, want_voice, want_rate, timeout = msg
    if voice_error is not None:
        answer = ("error", key, "voice", voice_error)
    elif (want_voice or None, int(want_rate)) != (voice or None, rate):
        answer = ("error", key, "engine", "this worker speaks another voice or rate")
    else:
        got = in_child(timeout, synthesize, key, text)
        if got is None:
            answer = ("lost", key)
        elif got[0][0] == "raw":
            answer = ("raw", key, got[1], sample_rate)
        else:
            answer = got[0]
    try:
        send(answer)
    except OSError:
        break
os._exit(0)  # skip interpreter teardown: espeak dislikes being finalized
'''


def _worker_entry() -> None:
    """Entry point of a worker process (``python -c``); never returns.

    ``sys.argv[1:]`` is ``driver tmpdir fork_per_clip``. The protocol runs over the
    original stdin/stdout, moved to private fds first; fds 0, 1 and 2 then point at
    /dev/null so nothing the engine prints can reach the user or corrupt the protocol.

    parent → worker: ``("synth", key, text, voice, rate, timeout)``, or ``None`` to stop.
    worker → parent: ``("ready", voices, default)`` or ``("fatal", message)`` once, then
    per job ``("ok", key, int16 bytes)``, ``("error", key, kind, message)`` or
    ``("lost", key)`` (the engine hung or crashed; worth another try).
    """
    driver, tmpdir, fork_flag = sys.argv[1:4]
    fork_per_clip = fork_flag == "1"
    commands = os.fdopen(os.dup(0), "rb")
    reply_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - for the process
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    except (ValueError, OSError, AttributeError):
        pass

    def reply(obj) -> None:
        _send(lambda data: _write_all(reply_fd, data), obj)

    try:
        import warnings

        warnings.simplefilter("ignore")
        importlib.import_module(f"pyttsx3.drivers.{driver}")
        engine = None
        if fork_per_clip:
            voices, default = _in_child(STARTUP_TIMEOUT, _child_voices, driver)
        else:
            engine = _make_engine(driver)
            voices, default = engine.voices()
    except BaseException as exc:  # noqa: BLE001 - reported, never printed
        message = _one_line(exc)
        try:
            reply(("fatal", message))
        finally:
            os._exit(0)
    reply(("ready", voices, default))
    path = os.path.join(tmpdir, f"clip-{os.getpid()}.wav")
    while True:
        try:
            msg = _recv(commands)
        except (EOFError, OSError):
            break
        if msg is None:
            break
        _, key, text, voice, rate, timeout = msg
        try:
            if fork_per_clip:
                raw, channels, sr = _in_child(timeout, _child_synthesize, driver, text,
                                              voice, rate, path, timeout)
                samples = np.frombuffer(raw, dtype=np.int16).reshape(-1, channels)
            else:
                samples, sr = engine.synthesize(text, voice, rate, path, timeout)
            answer = ("ok", key, finish_clip(samples, sr).tobytes())
        except (_ChildLost, TimeoutError):
            answer = ("lost", key)
        except LookupError as exc:
            answer = ("error", key, "voice", _one_line(exc))
        except Exception as exc:  # noqa: BLE001
            answer = ("error", key, "engine", _one_line(exc))
        try:
            reply(answer)
        except OSError:
            break
        if answer[0] == "lost" and not fork_per_clip:
            break  # this process's engine is stuck: exit, the parent starts another
    os._exit(0)  # skip interpreter teardown: espeak dislikes being finalized


# -- the parent side ------------------------------------------------------------------

_WORKER_CODE = ("import json, os, sys; sys.path[:] = json.loads(os.environ.pop("
                "'VOICEGUIDE_WORKER_PATH')); from voiceguide.speech import _worker_entry; "
                "_worker_entry()")


def _worker_mode(driver: str) -> str:
    """How workers synthesize for ``driver``: ``template`` (Linux, espeak-ng through
    :data:`_TEMPLATE_WORKER_CODE`), ``fork`` (Linux, espeak-ng through pyttsx3's driver
    in a fresh child per clip, if its ctypes binding lacks something) or ``engine``
    (one engine per worker, elsewhere)."""
    linux = sys.platform.startswith("linux") and hasattr(os, "fork")
    if driver != "espeak" or not linux:
        return "engine"
    return "template" if _EspeakDirect.available() else "fork"


def _lean_path() -> list[str]:
    """``sys.path`` for a template worker (started with ``-S``: no site hooks), with
    the folder pyttsx3 was imported from in front."""
    path = list(sys.path)
    module = sys.modules.get("pyttsx3")
    if module is not None and getattr(module, "__file__", None):
        path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(module.__file__))))
    return path


def _binding_file() -> str:
    """The file of pyttsx3's espeak binding (imported by :func:`check_engine`)."""
    module = sys.modules.get("pyttsx3.drivers._espeak")
    return str(getattr(module, "__file__", "") or "")


class _Worker:
    """A worker process as seen from the parent.

    A plain ``subprocess`` (not ``multiprocessing``, whose spawn bootstrap re-imports
    the caller's ``__main__`` and runs with the caller's stderr): a template worker
    (:data:`_TEMPLATE_WORKER_CODE`, set up for one ``config`` = (voice, rate)) or one
    running :func:`_worker_entry`. It gets the parent's ``sys.path``, stderr at
    /dev/null from its first instruction, its own session (terminal Ctrl-C goes to the
    parent only) and single-threaded BLAS (it forks). A reader thread turns its replies
    into ``(worker, message)`` items on the pool's inbox; ``("died",)`` marks the end.

    Up to :data:`PIPELINE` jobs are sent ahead (``jobs``, oldest first); the worker
    answers them in order. ``deadline`` is for the oldest one, counted from when the
    one before it was answered.
    """

    def __init__(self, driver: str, mode: str, inbox: queue.Queue,
                 config: tuple[str | None, int] | None = None, list_voices: bool = True):
        self.mode = mode
        self.config = config if mode == "template" else None
        self.lists_voices = list_voices or mode != "template"
        env = dict(os.environ)
        extra = ({"start_new_session": True} if os.name == "posix" else
                 {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)})
        if mode == "template":
            self.tmpdir = None
            voice, rate = config or (None, DEFAULT_RATE)
            env["VOICEGUIDE_WORKER_CONFIG"] = marshal.dumps(
                {"path": _lean_path(), "binding": _binding_file(), "voice": voice,
                 "rate": int(rate), "voices": bool(list_voices)}).hex()
            cmd = [sys.executable, "-S", "-c", _TEMPLATE_WORKER_CODE]
        else:
            self.tmpdir = tempfile.mkdtemp(prefix="voiceguide-tts-")
            env["VOICEGUIDE_WORKER_PATH"] = json.dumps(sys.path)
            for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                env[name] = "1"
            cmd = [sys.executable, "-c", _WORKER_CODE, driver, self.tmpdir,
                   "0" if mode == "engine" else "1"]
        # a forked child is timed out by its worker; the parent only steps in if the
        # worker itself stops answering
        self.grace = 2.0 if mode == "engine" else 10.0
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env, close_fds=True,
                                     **extra)
        self.ready = False
        self.jobs: collections.deque[tuple[str, str, float]] = collections.deque()
        self.deadline: float | None = time.monotonic() + STARTUP_TIMEOUT
        self._reader = threading.Thread(target=self._read, args=(inbox,), daemon=True,
                                        name="voiceguide-speech-reader")
        self._reader.start()

    def _read(self, inbox: queue.Queue) -> None:
        try:
            while True:
                inbox.put((self, _recv(self.proc.stdout)))
        except Exception:  # EOF, closed pipe, or garbage: the worker is gone
            inbox.put((self, ("died",)))
        finally:
            try:
                self.proc.stdout.close()  # here, not in kill(): that would block on us
            except (OSError, ValueError):
                pass

    def send(self, key: str, text: str, voice: str | None, rate: int,
             timeout: float) -> None:
        """Hand the worker one more clip to synthesize."""
        if not self.jobs:
            self.deadline = time.monotonic() + timeout + self.grace
        self.jobs.append((key, text, timeout))
        try:
            _send(self._write, ("synth", key, text, voice, int(rate), timeout))
        except OSError:
            pass  # it died; its reader reports that

    def answered(self) -> tuple[str, str]:
        """Take the oldest job off the list: (key, text)."""
        key, text, _ = self.jobs.popleft()
        self.deadline = (time.monotonic() + self.jobs[0][2] + self.grace
                         if self.jobs else None)
        return key, text

    def _write(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def stop(self, wait: float = 1.0) -> None:
        """Ask the worker to exit; kill it if it does not within ``wait`` seconds."""
        if self.proc.returncode is None and not self.jobs and self.ready:
            try:
                _send(self._write, None)
                self.proc.wait(wait)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()

    def kill(self) -> None:
        """Kill the worker (and any engine child it forked) and release its resources."""
        if self.proc.returncode is None:  # not reaped: its pid and group are still ours
            try:
                if os.name == "posix":
                    # the whole group: an engine child it forked must not outlive it
                    os.killpg(self.proc.pid, signal.SIGKILL)
                else:
                    self.proc.kill()
            except OSError:
                pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        try:
            self.proc.stdin.close()
        except (OSError, ValueError):
            pass
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)


def _stop_all(workers: list[_Worker]) -> None:
    while workers:
        workers.pop().stop()


class _Pool:
    """Up to :data:`MAX_WORKERS` workers and the loop that feeds them jobs."""

    def __init__(self, driver: str, max_workers: int, clip_timeout: float | None):
        self.driver = driver
        self.mode = _worker_mode(driver)
        self.max_workers = max(1, int(max_workers))
        self.clip_timeout = clip_timeout
        self.workers: list[_Worker] = []
        self.inbox: queue.Queue = queue.Queue()
        self.voices: tuple[list, str | None] | None = None
        #: Worker processes started so far (for tests and diagnostics).
        self.started = 0
        self._want_voices = False
        self._startup_deaths = 0
        self._finalizer = weakref.finalize(self, _stop_all, self.workers)

    def close(self) -> None:
        """Stop every worker."""
        _stop_all(self.workers)

    def _timeout_for(self, text: str) -> float:
        return self.clip_timeout or (10.0 + len(text) / 50.0)

    def _start(self, count: int, config: tuple[str | None, int] | None) -> None:
        while len(self.workers) < min(count, self.max_workers):
            self.workers.append(_Worker(self.driver, self.mode, self.inbox, config,
                                        self._want_voices))
            self.started += 1

    def _retire(self, keep) -> None:
        """Stop the idle workers for which ``keep(worker)`` is false."""
        for w in list(self.workers):
            if not w.jobs and not keep(w):
                self.workers.remove(w)
                w.stop()

    def _drop(self, worker: _Worker) -> None:
        worker.kill()
        if worker in self.workers:
            self.workers.remove(worker)

    def wait_ready(self) -> tuple[list, str | None]:
        """Start one worker if needed and return the engine's (voices, default)."""
        if self.voices is None:
            self._want_voices = True
            self._retire(lambda w: w.lists_voices)
            self.run({}, voice=None, rate=DEFAULT_RATE, until_ready=True)
        if self.voices is None:  # cannot happen: run() returns once a worker is ready
            raise DeviceError("the speech engine did not report its voices")
        return self.voices

    def _dispatch(self, pending: collections.deque, voice: str | None, rate: int) -> None:
        """Keep every ready worker up to :data:`PIPELINE` jobs ahead, evenly."""
        ready = [w for w in self.workers if w.ready]
        while pending and ready:
            w = min(ready, key=lambda w: len(w.jobs))
            if len(w.jobs) >= PIPELINE:
                return
            key, text = pending.popleft()
            w.send(key, text, voice, rate, self._timeout_for(text))

    def run(self, jobs: dict[str, str], voice: str | None, rate: int,
            on_clip: Callable[[str, np.ndarray], None] | None = None,
            until_ready: bool = False) -> None:
        """Synthesize ``jobs`` (key → text), calling ``on_clip(key, samples)`` for each.

        With ``until_ready``, return as soon as one worker is up (``jobs`` unused).
        """
        pending = collections.deque(jobs.items())
        attempts: collections.Counter[str] = collections.Counter()
        restarts = 0
        config = (voice or None, int(rate)) if self.mode == "template" else None
        if not until_ready:
            # a template worker's engine is set up for one voice and rate, once
            self._retire(lambda w: w.config == config)
        want = self.max_workers if len(pending) >= PARALLEL_MIN_CLIPS else 1
        self._start(want, config)
        try:
            while True:
                if until_ready and any(w.ready and w.lists_voices for w in self.workers):
                    return
                if not until_ready:
                    self._dispatch(pending, voice, rate)
                    if not pending and not any(w.jobs for w in self.workers):
                        return  # a worker still starting is not waited for
                deadlines = [w.deadline for w in self.workers if w.deadline is not None]
                wait_for = (max(0.0, min(deadlines) - time.monotonic())
                            if deadlines else None)
                try:
                    w, msg = self.inbox.get(timeout=wait_for)
                except queue.Empty:
                    pass
                else:
                    if w in self.workers:  # else: a dropped worker's last words
                        restarts += self._handle(w, msg, pending, attempts, on_clip)
                now = time.monotonic()
                for w in list(self.workers):
                    if w.deadline is not None and now > w.deadline:
                        restarts += self._handle(w, ("hung",), pending, attempts, on_clip)
                if self._startup_deaths >= 3:
                    self._startup_deaths = 0
                    raise DeviceError("the speech worker process could not start; check "
                                      f"that `{sys.executable} -c \"import voiceguide."
                                      "speech\"` works")
                if restarts > MAX_RESTARTS:
                    raise DeviceError("the speech engine keeps crashing or hanging; "
                                      "try again, or reinstall it: "
                                      f"{install_hint(self.driver)}")
                self._start(want if pending else 1, config)
        except BaseException:
            for w in list(self.workers):  # a job still in flight would answer later
                if w.jobs or not w.ready:
                    self._drop(w)
            raise

    def _handle(self, w: _Worker, msg: tuple, pending: collections.deque,
                attempts: collections.Counter, on_clip) -> int:
        """Act on one message (or event) from worker ``w``; return 1 if it was lost."""
        kind = msg[0]
        if kind == "ready":
            w.ready, w.deadline = True, None
            self._startup_deaths = 0
            if msg[1] is not None:
                self.voices = (msg[1], msg[2])
            return 0
        if kind == "fatal":
            self._drop(w)
            raise DeviceError(f"the speech engine ({self.driver}) failed to start "
                              f"({msg[1]}); install or repair it with: "
                              f"{install_hint(self.driver)}")
        blamed = None
        if kind in ("ok", "raw", "error", "lost"):
            if not w.jobs or w.jobs[0][0] != msg[1]:
                return 0  # not the job we are waiting for (cannot happen; be safe)
            job = w.answered()
            if kind in ("ok", "raw"):
                if kind == "ok":  # finished by the worker
                    samples = np.frombuffer(msg[2], dtype=np.int16)
                else:  # raw engine output, finished here (the worker has no numpy)
                    samples = finish_clip(np.frombuffer(msg[2], dtype="<i2"), msg[3])
                if on_clip is not None:
                    on_clip(job[0], samples)
                return 0
            if kind == "error":
                _, _, what, message = msg
                if what == "voice":
                    raise InputError(message)
                raise VoiceguideError(f"the speech engine failed on {job[1]!r}: {message}")
            if self.mode != "engine":  # a forked child hung or crashed; the worker goes on
                self._again(job, attempts, pending)
                return 0
            blamed = job  # this worker's own engine is stuck: it exits
        # the worker itself "died" or "hung" (or exits): what it still had goes back
        if not w.ready:
            self._startup_deaths += 1
        rest = [(key, text) for key, text, _ in w.jobs]
        w.jobs.clear()
        self._drop(w)
        if blamed is None and rest:
            blamed = rest.pop(0)  # the one it was working on
        pending.extendleft(reversed(rest))
        if blamed is not None:
            self._again(blamed, attempts, pending)
        return 1

    @staticmethod
    def _again(job: tuple[str, str], attempts: collections.Counter,
               pending: collections.deque) -> None:
        """Put a job that hung or crashed back first in line, or give up on it."""
        attempts[job[0]] += 1
        if attempts[job[0]] >= MAX_ATTEMPTS:
            raise VoiceguideError(f"the speech engine hangs or crashes on {job[1]!r}; "
                                  "try rewording it")
        pending.appendleft(job)


class Speech:
    """Synthesized, cached speech for one voice and rate.

    ``voice`` is a voice id (see :func:`list_voices`, :func:`resolve_voice`; ``None`` is
    the engine's default), ``rate`` is in words per minute, ``cache`` defaults to a
    :class:`ClipCache` in the default location. Workers start only when a clip has to be
    synthesized and stay until :meth:`close` (or the end of a ``with`` block).

    Keyword-only, mainly for tests: ``workers`` caps the worker count (default 2),
    ``clip_timeout`` overrides the per-clip timeout in seconds, and ``driver`` names the
    pyttsx3 driver (default: the platform's; a wrong name simulates a missing engine).
    Raises :class:`DeviceError` up front if the engine cannot be loaded.
    """

    def __init__(self, voice: str | None = None, rate: int = DEFAULT_RATE,
                 cache: ClipCache | None = None, *, workers: int = MAX_WORKERS,
                 clip_timeout: float | None = None, driver: str | None = None):
        """Check the engine and set up (no process is started yet)."""
        self.driver = check_engine(driver)
        self.voice = voice or None
        self.rate = int(rate)
        self.cache = cache if cache is not None else ClipCache()
        #: Clips this instance has synthesized (not found in the cache).
        self.synthesized = 0
        self._pool = _Pool(self.driver, min(workers, MAX_WORKERS), clip_timeout)

    # -- context management ----------------------------------------------------------

    def close(self) -> None:
        """Stop the worker processes (they are restarted if needed later)."""
        self._pool.close()

    def __enter__(self) -> Speech:
        """Use as a context manager; :meth:`close` on exit."""
        return self

    def __exit__(self, *exc) -> None:
        """Stop the workers."""
        self.close()

    # -- the API ---------------------------------------------------------------------

    def _write_error(self, exc: OSError) -> VoiceguideError:
        return VoiceguideError(f"cannot write the speech cache in {self.cache.root}: "
                               f"{exc.strerror or _one_line(exc)}")

    def _put(self, key: str, samples: np.ndarray) -> None:
        try:
            self.cache.put(key, samples)
        except OSError as exc:
            raise self._write_error(exc) from None

    def key(self, text: str) -> str:
        """The cache key of ``text`` in this voice and rate."""
        return clip_key(text, self.voice, self.rate, engine=self.driver)

    def missing(self, texts: Iterable[str]) -> list[str]:
        """The texts (each once, in order) whose clips are not in the cache yet."""
        out, seen = [], set()
        for text in texts:
            if not canonical_text(text):
                continue  # blank text is silence; nothing to synthesize
            key = self.key(text)
            if key not in seen:
                seen.add(key)
                if self.cache.length(key) is None:
                    out.append(text)
        return out

    def prepare(self, texts: Iterable[str],
                progress: Callable[[int, int], None] | None = None) -> None:
        """Synthesize every text whose clip is not cached yet, in parallel.

        ``progress(done, total)`` is called with ``(0, total)`` first and after each new
        clip. Raises :class:`DeviceError` if the engine cannot run, :class:`InputError`
        if it rejects the voice, :class:`VoiceguideError` if it keeps failing on a text.
        """
        jobs: dict[str, str] = {}
        for text in self.missing(texts):
            jobs[self.key(text)] = canonical_text(text)
        total, done = len(jobs), 0
        if progress:
            progress(0, total)
        if not jobs:
            return

        def store(key: str, samples: np.ndarray) -> None:
            nonlocal done
            try:
                batch.put(key, samples)
            except OSError as exc:  # an earlier clip could not be written
                raise self._write_error(exc) from None
            self.synthesized += 1
            done += 1
            if progress:
                progress(done, total)

        # the clips are written (and fsync-ed) by a background thread meanwhile; all of
        # them are in the cache when this returns
        batch = self.cache.batch()
        try:
            self._pool.run(jobs, self.voice, self.rate, store)
        except BaseException:
            with contextlib.suppress(Exception):
                batch.close()  # keep what was made; the error in flight matters more
            raise
        try:
            batch.close()
        except OSError as exc:
            raise self._write_error(exc) from None

    def clip(self, text: str) -> np.ndarray:
        """The clip for ``text``: 1-D int16 at SAMPLE_RATE, from the cache or synthesized
        (and cached) now. Blank text gives a short silence."""
        if not canonical_text(text):
            return np.zeros(2 * _MARGIN, dtype=np.int16)
        key = self.key(text)
        samples = self.cache.get(key)
        if samples is not None:
            return samples
        got: dict[str, np.ndarray] = {}

        def store(k: str, s: np.ndarray) -> None:
            self._put(k, s)
            self.synthesized += 1
            got[k] = s

        self._pool.run({key: canonical_text(text)}, self.voice, self.rate, store)
        return got[key]

    def seconds(self, text: str) -> float:
        """The exact length of ``text``'s clip in seconds (frames / SAMPLE_RATE).

        Reads only the cached file's header; synthesizes the clip if it is missing.
        """
        if not canonical_text(text):
            return 2 * _MARGIN / SAMPLE_RATE
        frames = self.cache.length(self.key(text))
        if frames is None:
            frames = len(self.clip(text))
        return frames / SAMPLE_RATE


# -- voices ---------------------------------------------------------------------------

_voice_lists: dict[str, tuple[list[VoiceInfo], str | None]] = {}


def _voices_and_default(driver: str | None) -> tuple[list[VoiceInfo], str | None]:
    driver = check_engine(driver)
    if driver not in _voice_lists:
        pool = _Pool(driver, 1, None)
        try:
            raw, default = pool.wait_ready()
        finally:
            pool.close()
        _voice_lists[driver] = ([VoiceInfo(i, n, tuple(l)) for i, n, l in raw], default)
    return _voice_lists[driver]


def list_voices(*, driver: str | None = None) -> list[VoiceInfo]:
    """Every voice the speech engine offers (asked once per process, in a worker).

    Raises :class:`DeviceError` if the engine is missing. ``driver`` is for tests.
    """
    return list(_voices_and_default(driver)[0])


def resolve_voice(query: str, *, driver: str | None = None) -> str:
    """The id of the voice ``query`` names: an id, or a case-insensitive name fragment.

    An exact id or name wins; otherwise the best fragment match (a name that starts with
    the fragment beats one that merely contains it; among equals the engine's default
    voice, then the shortest name). Raises :class:`InputError` with a one-line message
    listing a few close voice names if nothing matches.
    """
    voices, default = _voices_and_default(driver)
    q = " ".join(str(query).split()).casefold()
    if not q:
        raise InputError("empty voice name")
    for v in voices:
        if q in (v.id.casefold(), v.name.casefold()):
            return v.id
    ranked = []
    for v in voices:
        name, vid = v.name.casefold(), v.id.casefold()
        if name.startswith(q):
            rank = 0
        elif q in name or q in vid:
            rank = 1
        else:
            continue
        ranked.append((rank, v.id != default, len(v.name), v.name, v.id))
    if ranked:
        return min(ranked)[-1]
    names = [v.name for v in voices]
    close = difflib.get_close_matches(str(query), names, n=4, cutoff=0.4)
    if not close:
        folded = {n.casefold(): n for n in names}
        close = [folded[c] for c in difflib.get_close_matches(q, list(folded), n=4, cutoff=0.3)]
    hint = f"; close matches: {', '.join(close)}" if close else (
        f"; for example: {', '.join(names[:4])}" if names else "")
    raise InputError(f"unknown voice {query!r}{hint}")
