"""The generic worker process: one engine's synthesizer, serving clips to the pool.

Started by the pool as ``python -c`` with :data:`WORKER_CODE` (it gets the parent's
``sys.path`` and then runs :func:`main`); used for every engine and mode except the
espeak-ng template (see :mod:`voiceguide.speech.template_worker`). It finishes each
clip (:func:`~voiceguide.speech.audio.finish_clip`) before sending it back.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys

import numpy as np

from voiceguide.speech.audio import finish_clip
from voiceguide.speech.protocol import ChildLost, in_child, one_line, recv, send, write_all

#: What the pool runs with ``python -c``; the arguments follow (see :func:`main`).
WORKER_CODE = ("import json, os, sys; sys.path[:] = json.loads(os.environ.pop("
               "'VOICEGUIDE_WORKER_PATH')); from voiceguide.speech.worker import main; "
               "main()")

#: How long a worker may take to start up and probe the engine.
STARTUP_TIMEOUT = 60.0


def make_synthesizer(kind: str, arg: str):
    """The synthesizer (see :mod:`voiceguide.speech.engine`) of engine ``kind`` with
    ``arg``: ``pyttsx3`` and a driver name, or ``piper`` and a model file."""
    if kind == "piper":
        from voiceguide.speech.piper import PiperSynth

        return PiperSynth(arg)
    from voiceguide.speech.espeak import make_synthesizer as pyttsx3_synthesizer

    return pyttsx3_synthesizer(arg)


def _child_voices(kind: str, arg: str):
    return make_synthesizer(kind, arg).voices()


def _child_synthesize(kind: str, arg: str, text: str, voice: str | None, rate: int,
                      path: str, timeout: float):
    samples, sr = make_synthesizer(kind, arg).synthesize(text, voice, rate, path, timeout)
    return samples.tobytes(), samples.dtype.str, samples.shape[1], sr


def _quiet_fds():
    """Move the protocol off fds 0 and 1 and point 0, 1 and 2 at /dev/null, so nothing
    the engine prints reaches the user or corrupts the protocol: (commands, reply fd)."""
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
    return commands, reply_fd


def main() -> None:
    """Entry point of a worker process; never returns.

    ``sys.argv[1:]`` is ``tmpdir fork_per_clip kind arg`` (see
    :func:`make_synthesizer`). The protocol runs over the original stdin/stdout.

    parent → worker: ``("synth", key, text, voice, rate, timeout)``, or ``None`` to stop.
    worker → parent: ``("ready", voices, default)`` or ``("fatal", message)`` once, then
    per job ``("ok", key, int16 bytes)``, ``("error", key, kind, message)`` or
    ``("lost", key)`` (the engine hung or crashed; worth another try).
    """
    tmpdir, fork_flag, kind, arg = sys.argv[1:5]
    fork_per_clip = fork_flag == "1"
    commands, reply_fd = _quiet_fds()

    def reply(obj) -> None:
        send(lambda data: write_all(reply_fd, data), obj)

    try:
        import warnings

        warnings.simplefilter("ignore")
        if kind == "pyttsx3":  # loaded once here, before any fork
            importlib.import_module(f"pyttsx3.drivers.{arg}")
        engine = None
        if fork_per_clip:
            voices, default = in_child(STARTUP_TIMEOUT, _child_voices, kind, arg)
        else:
            engine = make_synthesizer(kind, arg)
            voices, default = engine.voices()
    except BaseException as exc:  # noqa: BLE001 - reported, never printed
        message = one_line(exc)
        try:
            reply(("fatal", message))
        finally:
            os._exit(0)
    reply(("ready", voices, default))
    path = os.path.join(tmpdir, f"clip-{os.getpid()}.wav")
    while True:
        try:
            msg = recv(commands)
        except (EOFError, OSError):
            break
        if msg is None:
            break
        _, key, text, voice, rate, timeout = msg
        try:
            if fork_per_clip:
                raw, dtype, channels, sr = in_child(timeout, _child_synthesize, kind, arg,
                                                    text, voice, rate, path, timeout)
                samples = np.frombuffer(raw, dtype=dtype).reshape(-1, channels)
            else:
                samples, sr = engine.synthesize(text, voice, rate, path, timeout)
            answer = ("ok", key, finish_clip(samples, sr).tobytes())
        except (ChildLost, TimeoutError):
            answer = ("lost", key)
        except LookupError as exc:
            answer = ("error", key, "voice", one_line(exc))
        except Exception as exc:  # noqa: BLE001
            answer = ("error", key, "engine", one_line(exc))
        try:
            reply(answer)
        except OSError:
            break
        if answer[0] == "lost" and not fork_per_clip:
            break  # this process's engine is stuck: exit, the parent starts another
    os._exit(0)  # skip interpreter teardown: espeak dislikes being finalized
