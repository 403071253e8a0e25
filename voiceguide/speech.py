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

So synthesis runs in worker processes (plain ``python -c`` subprocesses, see
:class:`_Worker`) whose fds 0, 1 and 2 point at /dev/null at the OS level, so neither
pyttsx3 nor libespeak-ng can print anything the user sees. On Linux with espeak, a
worker never starts espeak itself: for each clip it ``fork``s a single-use child that
initializes espeak-ng in synchronous mode through pyttsx3's ctypes binding
(:class:`_EspeakDirect`), synthesizes one clip into memory and exits, about 20-30 ms a
clip. Each clip thus starts from the same pristine engine state (deterministic output:
same text, voice and rate give the same samples), and a hung child is killed after a
per-clip timeout while its worker carries on. Elsewhere (macOS, Windows) a worker keeps
one pyttsx3 engine for all its clips; if it hangs, the parent kills and restarts it
(there, output is only as deterministic as the platform's engine). Two workers run when
many clips are needed (:data:`PARALLEL_MIN_CLIPS`), one for a handful.
"""

from __future__ import annotations

import collections
import difflib
import importlib
import json
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
    x = np.asarray(samples, dtype=np.float64)
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
    ramp = np.linspace(0.0, 1.0, _FADE, endpoint=False)
    y[:_FADE] *= ramp
    y[len(y) - _FADE:] *= ramp[::-1]
    y *= (10 ** (PEAK_DBFS / 20)) * 32767.0 / peak
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


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


def _send(write: Callable[[bytes], object], obj) -> None:
    """Write one length-prefixed pickle frame."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    write(struct.pack("<Q", len(data)) + data)


def _recv(stream) -> object:
    """Read one frame written by :func:`_send`; EOFError at the end of the stream."""
    header = stream.read(8)
    if len(header) < 8:
        raise EOFError
    (size,) = struct.unpack("<Q", header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


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


class _Worker:
    """A worker process as seen from the parent.

    A plain ``subprocess`` running :func:`_worker_entry` (not ``multiprocessing``,
    whose spawn bootstrap re-imports the caller's ``__main__`` and runs with the
    caller's stderr). It gets the parent's ``sys.path``, stderr at /dev/null from its
    first instruction, its own session (terminal Ctrl-C goes to the parent only) and
    single-threaded BLAS (it forks). A reader thread turns its replies into
    ``(worker, message)`` items on the pool's inbox; ``("died",)`` marks the end.
    """

    def __init__(self, driver: str, fork_per_clip: bool, inbox: queue.Queue):
        self.tmpdir = tempfile.mkdtemp(prefix="voiceguide-tts-")
        env = dict(os.environ)
        env["VOICEGUIDE_WORKER_PATH"] = json.dumps(sys.path)
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = "1"
        extra = ({"start_new_session": True} if os.name == "posix" else
                 {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)})
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _WORKER_CODE, driver, self.tmpdir,
             "1" if fork_per_clip else "0"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=env, close_fds=True, **extra)
        self.ready = False
        self.job: tuple[str, str] | None = None  # (key, text) in flight
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

    def send(self, key: str, text: str, voice: str | None, rate: int, timeout: float,
             grace: float) -> None:
        """Hand the worker one clip to synthesize."""
        self.job = (key, text)
        self.deadline = time.monotonic() + timeout + grace
        try:
            _send(self._write, ("synth", key, text, voice, rate, timeout))
        except OSError:
            pass  # it died; its reader reports that

    def _write(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def stop(self, wait: float = 1.0) -> None:
        """Ask the worker to exit; kill it if it does not within ``wait`` seconds."""
        if self.proc.returncode is None and self.job is None and self.ready:
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
        shutil.rmtree(self.tmpdir, ignore_errors=True)


def _stop_all(workers: list[_Worker]) -> None:
    while workers:
        workers.pop().stop()


class _Pool:
    """Up to :data:`MAX_WORKERS` workers and the loop that feeds them jobs."""

    def __init__(self, driver: str, max_workers: int, clip_timeout: float | None):
        self.driver = driver
        self.fork_per_clip = (driver == "espeak" and hasattr(os, "fork")
                              and sys.platform.startswith("linux"))
        self.max_workers = max(1, int(max_workers))
        self.clip_timeout = clip_timeout
        self.workers: list[_Worker] = []
        self.inbox: queue.Queue = queue.Queue()
        self.voices: tuple[list, str | None] | None = None
        #: Worker processes started so far (for tests and diagnostics).
        self.started = 0
        self._startup_deaths = 0
        self._finalizer = weakref.finalize(self, _stop_all, self.workers)

    def close(self) -> None:
        """Stop every worker."""
        _stop_all(self.workers)

    def _timeout_for(self, text: str) -> float:
        return self.clip_timeout or (10.0 + len(text) / 50.0)

    def _start(self, count: int) -> None:
        while len(self.workers) < min(count, self.max_workers):
            self.workers.append(_Worker(self.driver, self.fork_per_clip, self.inbox))
            self.started += 1

    def _drop(self, worker: _Worker) -> None:
        worker.kill()
        if worker in self.workers:
            self.workers.remove(worker)

    def wait_ready(self) -> tuple[list, str | None]:
        """Start one worker if needed and return the engine's (voices, default)."""
        self.run({}, voice=None, rate=DEFAULT_RATE, until_ready=True)
        if self.voices is None:  # cannot happen: run() returns once a worker is ready
            raise DeviceError("the speech engine did not report its voices")
        return self.voices

    def run(self, jobs: dict[str, str], voice: str | None, rate: int,
            on_clip: Callable[[str, np.ndarray], None] | None = None,
            until_ready: bool = False) -> None:
        """Synthesize ``jobs`` (key → text), calling ``on_clip(key, samples)`` for each.

        With ``until_ready``, return as soon as one worker is up (``jobs`` unused).
        """
        pending = collections.deque(jobs.items())
        attempts: collections.Counter[str] = collections.Counter()
        restarts = 0
        want = self.max_workers if len(pending) >= PARALLEL_MIN_CLIPS else 1
        self._start(want)
        try:
            while True:
                if until_ready and any(w.ready for w in self.workers):
                    return
                for w in self.workers:
                    if w.ready and w.job is None and pending:
                        key, text = pending.popleft()
                        # a forked child is timed out by its worker; the parent only
                        # steps in if the worker itself stops answering
                        grace = 10.0 if self.fork_per_clip else 2.0
                        w.send(key, text, voice, rate, self._timeout_for(text), grace)
                if (not until_ready and not pending
                        and not any(w.job is not None for w in self.workers)):
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
                self._start(want if pending else 1)
        except BaseException:
            for w in list(self.workers):  # a job still in flight would answer later
                if w.job is not None or not w.ready:
                    self._drop(w)
            raise

    def _handle(self, w: _Worker, msg: tuple, pending: collections.deque,
                attempts: collections.Counter, on_clip) -> int:
        """Act on one message (or event) from worker ``w``; return 1 if it was lost."""
        kind = msg[0]
        if kind == "ready":
            w.ready, w.deadline = True, None
            self._startup_deaths = 0
            self.voices = (msg[1], msg[2])
            return 0
        if kind == "fatal":
            self._drop(w)
            raise DeviceError(f"the speech engine ({self.driver}) failed to start "
                              f"({msg[1]}); install or repair it with: "
                              f"{install_hint(self.driver)}")
        if kind in ("ok", "error", "lost") and (w.job is None or w.job[0] != msg[1]):
            return 0  # not the job we are waiting for (cannot happen; be safe)
        job, w.job, w.deadline = w.job, None, None
        if kind == "ok":
            if on_clip is not None:
                on_clip(job[0], np.frombuffer(msg[2], dtype=np.int16))
            return 0
        if kind == "error":
            _, _, what, message = msg
            if what == "voice":
                raise InputError(message)
            raise VoiceguideError(f"the speech engine failed on {job[1]!r}: {message}")
        # "lost" (a forked child hung or crashed; its worker carries on), or the
        # worker itself "died" or "hung"
        lost = kind != "lost" or not self.fork_per_clip
        if lost:
            if not w.ready:
                self._startup_deaths += 1
            self._drop(w)
        if job is not None:
            attempts[job[0]] += 1
            if attempts[job[0]] >= MAX_ATTEMPTS:
                raise VoiceguideError(f"the speech engine hangs or crashes on {job[1]!r}; "
                                      "try rewording it")
            pending.appendleft(job)
        return 1 if lost else 0


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

    def _put(self, key: str, samples: np.ndarray) -> None:
        try:
            self.cache.put(key, samples)
        except OSError as exc:
            raise VoiceguideError(f"cannot write the speech cache in {self.cache.root}: "
                                  f"{exc.strerror or _one_line(exc)}") from None

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
            self._put(key, samples)
            self.synthesized += 1
            done += 1
            if progress:
                progress(done, total)

        self._pool.run(jobs, self.voice, self.rate, store)

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
