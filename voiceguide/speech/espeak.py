"""The pyttsx3 engine: espeak-ng on Linux, NSSpeechSynthesizer (nsss) on macOS, SAPI5
on Windows. The default engine; it needs nothing beyond the base install.

Nothing is synthesized in the calling process, because (all checked with pyttsx3
2.99 and espeak-ng 1.51):

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

So synthesis runs in worker processes (see :mod:`voiceguide.speech.pool`). On Linux
with espeak a worker is a *template* (:mod:`voiceguide.speech.template_worker`): a lean
``python -S`` process that initializes espeak-ng once in synchronous mode, selects its
voice and rate without ever speaking, and forks a single-use child per clip from that
pristine state: same text, voice and rate give the same samples, byte for byte, in any
process and in any order. (Should pyttsx3's binding lack a function used here, a worker
forks a child per clip that initializes pyttsx3's espeak driver itself: slower, as
deterministic.) Elsewhere a worker keeps one pyttsx3 engine for all its clips (there,
output is only as deterministic as the platform's engine).
"""

from __future__ import annotations

import importlib
import os
import sys
import threading

import numpy as np

from voiceguide.audio import pcm
from voiceguide.errors import DeviceError
from voiceguide.speech.audio import read_audio
from voiceguide.speech.engine import Engine
from voiceguide.speech.protocol import one_line

_DEFAULT_DRIVERS = {"darwin": "nsss", "win32": "sapi5"}


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
                          f"{one_line(exc)}); install it with: pip install pyttsx3") from None
    try:
        importlib.import_module(f"pyttsx3.drivers.{driver}")
    except ModuleNotFoundError as exc:
        missing = getattr(exc, "name", "") or ""
        if missing.startswith("pyttsx3.drivers"):
            reason = f"pyttsx3 has no driver {driver!r}"
        else:
            reason = f"the {driver} driver needs {missing or one_line(exc)}"
        raise _engine_error(driver, reason) from None
    except Exception as exc:
        reason = one_line(exc)
        if driver == "espeak":
            reason = "libespeak-ng is not installed"
        raise _engine_error(driver, reason) from None
    return driver

def _voice_tuple(vid, name, languages) -> tuple[str, str, tuple[str, ...]]:
    langs = []
    for lang in languages or []:
        if isinstance(lang, bytes):
            lang = lang.decode("utf-8", "ignore")
        lang = str(lang).strip("\x00 ")
        if lang:
            langs.append(lang)
    return str(vid), str(name or vid), tuple(langs)


class EspeakDirect:
    """espeak-ng through pyttsx3's own ctypes binding (``pyttsx3.drivers._espeak``), in
    *synchronous* mode, instead of pyttsx3's ``EspeakDriver``.

    The driver starts espeak in asynchronous mode, where a property set just before an
    utterance sometimes does not apply to it: measured here, about 1 clip in 20 came out
    at the default 200 wpm (or espeak's 175) instead of the requested rate. It also
    waits in a polling loop for a flag set from espeak's thread, and prints to stdout.
    In synchronous mode the samples arrive through the callback on this thread before
    ``Synth`` returns: no thread, no loop, no temporary file, settings always applied.

    The template worker (:mod:`voiceguide.speech.template_worker`, which cannot import
    this module) makes the same calls in the same order; keep the two in step, or every
    cached clip changes (then change :meth:`Pyttsx3Engine.version`).
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
        data = pcm.from_bytes(b"".join(self._chunks))
        return data.reshape(-1, 1), self.sample_rate


class Pyttsx3Synth:
    """One pyttsx3 engine, driven with ``save_to_file`` and an event for completion.

    Used for nsss (macOS) and sapi5 (Windows), and for espeak only if pyttsx3's
    espeak binding lacks what :class:`EspeakDirect` needs.
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
        self.errors.append(one_line(exception) if exception is not None else "error")

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
        samples, sr = read_audio(path)
        os.unlink(path)
        return samples, sr


def make_synthesizer(driver: str):
    """The engine object for ``driver`` (see :class:`EspeakDirect`, :class:`Pyttsx3Synth`)."""
    if driver == "espeak" and EspeakDirect.available():
        return EspeakDirect()
    return Pyttsx3Synth(driver)


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


class Pyttsx3Engine(Engine):
    """The pyttsx3 engine for one driver (default: this platform's). Checks, cheaply
    and in this process, that it can load; :class:`DeviceError` if not."""

    def __init__(self, driver: str | None = None):
        """Check the driver (see :func:`check_engine`) and pick the worker mode."""
        self.driver = check_engine(driver)
        self.name = self.driver
        linux = sys.platform.startswith("linux") and hasattr(os, "fork")
        if self.driver != "espeak" or not linux:
            self.mode = "engine"
        else:
            self.mode = "template" if EspeakDirect.available() else "fork"

    def worker_args(self) -> list[str]:
        """A generic worker makes a pyttsx3 synthesizer for this driver."""
        return ["pyttsx3", self.driver]

    def template_config(self, voice: str | None, rate: int, list_voices: bool) -> dict:
        """The configuration of a template worker for ``voice`` and ``rate``."""
        return {"path": _lean_path(), "binding": _binding_file(), "voice": voice,
                "rate": int(rate), "voices": bool(list_voices)}

    def install_hint(self) -> str:
        """What to install for this driver."""
        return install_hint(self.driver)
