"""The small interface every speech engine implements.

An engine has two sides. In the parent, an :class:`Engine` says what it is (a name
and a version that go into every clip's cache key), which voices it has, how its
worker processes run and what to install when it is missing. In a worker, a
*synthesizer* (made by :func:`voiceguide.speech.worker.make_synthesizer`) speaks:

* ``voices() -> ([(id, name, languages)], default id)``
* ``synthesize(text, voice, rate, path, timeout) -> (samples, sample_rate)``: mono or
  multi-channel int16, or float in -1..1, at the engine's own rate; ``path`` is a
  scratch file the engine may write to, ``rate`` is in words per minute.

The shared pool (:mod:`voiceguide.speech.pool`) runs the workers, and
:func:`voiceguide.speech.audio.finish_clip` turns every engine's output into the same
kind of clip, so clips of all engines are cached and rendered alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from voiceguide.errors import DeviceError
from voiceguide.routine.pacing import DEFAULT_RATE  # noqa: F401 - the speech rate when none is given


@dataclass(frozen=True)
class VoiceInfo:
    """One voice: ``id`` (what :class:`~voiceguide.speech.Speech` takes), a human
    ``name``, the ``languages`` it speaks, the ``engine`` that speaks it, its
    ``quality`` (Piper's low/medium/high; empty when the engine does not say) and,
    for a voice that is a model file, its ``path``."""

    id: str
    name: str
    languages: tuple[str, ...] = ()
    engine: str = ""
    quality: str = ""
    path: str = ""


class Engine:
    """A speech engine as the parent process sees it (see the module docstring).

    ``name`` is short and stable (``espeak``, ``nsss``, ``sapi5``, ``piper``); ``mode``
    is how its workers run: ``template`` (a lean process forking a child per clip from
    a prepared engine), ``fork`` (a fresh engine in a child per clip) or ``engine``
    (one engine per worker, for all its clips).
    """

    name = ""
    mode = "engine"

    def version(self) -> str:
        """What changes the samples besides text, voice and rate (empty: nothing
        known); part of every cache key."""
        return ""

    def key_name(self) -> str:
        """The engine part of a clip's cache key: its name and version."""
        version = self.version()
        return f"{self.name} {version}" if version else self.name

    def worker_args(self) -> list[str]:
        """How a generic worker makes this engine's synthesizer (see
        :func:`voiceguide.speech.worker.make_synthesizer`)."""
        raise NotImplementedError

    def install_hint(self) -> str:
        """The command that installs (or repairs) what this engine needs."""
        raise NotImplementedError

    def failed(self, message: str) -> DeviceError:
        """The error for a worker that could not start the engine (``message`` from it)."""
        return DeviceError(f"the speech engine ({self.name}) failed to start ({message}); "
                           f"install or repair it with: {self.install_hint()}")
