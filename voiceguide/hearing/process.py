"""The recognizer in a process of its own, so that the guide's voice never stutters.

PocketSphinx holds Python's GIL while it decodes, for up to a third of a
second at a time. While the guide plays, the player's audio callback needs the
GIL every few tens of milliseconds: decoding in the same process makes it miss
its deadline, the sound server inserts a gap into the guide's voice, and the
echo's timing jumps (so the echo canceller must learn the room again). With
barge-in, the listener decodes while the guide speaks, so it hands each
utterance to this worker process and waits on a pipe, which lets the player run.

The worker is started with ``spawn`` (never ``fork`` from a process with audio
threads), ignores Ctrl-C, Ctrl-\\ and a hang-up (its parent handles them and stops it), and ends when
its parent closes the pipe or goes away. If it dies, recognition goes on in
the listener's own process.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading

import numpy as np

from voiceguide import signals
from voiceguide.hearing import recognizer
from voiceguide.hearing.recognizer import Heard

log = logging.getLogger(__name__)


_FUNCTIONS = {"recognize": recognizer.recognize, "hear_stop": recognizer.hear_stop}


def _serve(connection) -> None:
    """The worker: answer each (function, samples, rate) with a Heard, until the
    pipe closes."""
    signals.for_worker()
    recognizer.warm_up()
    while True:
        try:
            name, samples, rate = connection.recv()
        except (EOFError, OSError):
            return
        try:
            connection.send(_FUNCTIONS[name](samples, rate))
        except Exception as e:  # noqa: BLE001 - the listener decides what to do
            connection.send(e)


class RecognizerProcess:
    """:func:`~voiceguide.hearing.recognizer.recognize` and
    :func:`~voiceguide.hearing.recognizer.hear_stop` run by a worker process.

    Start it early: the worker loads the decoder (about a second) while the
    guide begins. :meth:`recognize` may be called from any thread.
    """

    def __init__(self):
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child,), daemon=True,
                                        name="voiceguide-recognizer")
        self._process.start()
        child.close()
        self._lock = threading.Lock()
        self._alive = True

    def recognize(self, samples: np.ndarray, sample_rate: int) -> Heard:
        """:func:`voiceguide.hearing.recognizer.recognize`, in the worker."""
        return self._call("recognize", samples, sample_rate)

    def hear_stop(self, samples: np.ndarray, sample_rate: int) -> Heard:
        """:func:`voiceguide.hearing.recognizer.hear_stop`, in the worker."""
        return self._call("hear_stop", samples, sample_rate)

    def _call(self, name: str, samples: np.ndarray, sample_rate: int) -> Heard:
        with self._lock:
            if self._alive:
                try:
                    self._connection.send((name, np.asarray(samples), sample_rate))
                    reply = self._connection.recv()
                except (EOFError, OSError):
                    log.warning("the recognizer process ended; recognizing in this one")
                    self._alive = False
                else:
                    if isinstance(reply, Exception):
                        raise reply
                    return reply
        return _FUNCTIONS[name](samples, sample_rate)

    def close(self) -> None:
        """Stop the worker (it ends when its pipe closes)."""
        with self._lock:
            self._alive = False
            self._connection.close()
        self._process.join(timeout=2)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=2)
