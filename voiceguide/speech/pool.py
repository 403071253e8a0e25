"""The worker pool shared by every engine: processes, jobs sent ahead, restarts.

Synthesis runs in worker processes: plain subprocesses (not ``multiprocessing``, whose
spawn bootstrap re-imports the caller's ``__main__`` and runs with the caller's stderr)
whose fds 0, 1 and 2 point at /dev/null at the OS level, so no engine can print
anything the user sees. A worker is either the espeak-ng template
(:mod:`voiceguide.speech.template_worker`) or the generic worker
(:mod:`voiceguide.speech.worker`) running an engine's synthesizer.

A template serves one voice and rate; asked for others, the pool replaces it with a
new one rather than reconfigure it (a fresh process is the only state known to be
clean). A hung child is killed after a per-clip timeout while its worker carries on;
a worker that hangs or dies is killed and its jobs go to a new one. The parent sends
each worker a few jobs ahead (:data:`PIPELINE`) so it never waits for the parent.
Two workers run when many clips are needed (:data:`PARALLEL_MIN_CLIPS`), one for a
handful.
"""

from __future__ import annotations

import collections
import json
import marshal
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from typing import Callable

import numpy as np

from voiceguide.errors import DeviceError, InputError, VoiceguideError
from voiceguide.speech.audio import finish_clip
from voiceguide.speech.engine import DEFAULT_RATE, Engine
from voiceguide.speech.protocol import recv, send
from voiceguide.speech.worker import STARTUP_TIMEOUT, WORKER_CODE

#: At least this many clips to synthesize before a second worker is started.
PARALLEL_MIN_CLIPS = 16
#: Most workers ever used (the app targets two-core machines).
MAX_WORKERS = 2
#: Attempts per clip (hang or crash) before giving up.
MAX_ATTEMPTS = 3
#: Worker restarts (crashes, hangs) tolerated in one call before giving up.
MAX_RESTARTS = 6
#: Jobs sent to a worker ahead of its answers: the next ones wait in its pipe, so it
#: never idles while the parent finishes and stores a clip.
PIPELINE = 3

#: The template worker's file, run by path with ``python -S``.
TEMPLATE_WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                               "template_worker.py")


class Worker:
    """A worker process as seen from the parent.

    A plain ``subprocess`` (not ``multiprocessing``, whose spawn bootstrap re-imports
    the caller's ``__main__`` and runs with the caller's stderr): a template worker
    (:mod:`~voiceguide.speech.template_worker`, set up for one ``config`` = (voice,
    rate)) or a generic one (:mod:`~voiceguide.speech.worker`) for ``engine``. It gets
    the parent's ``sys.path``, stderr at /dev/null from its first instruction, its own
    session (terminal Ctrl-C goes to the parent only) and single-threaded BLAS (it
    forks). A reader thread turns its replies
    into ``(worker, message)`` items on the pool's inbox; ``("died",)`` marks the end.

    Up to :data:`PIPELINE` jobs are sent ahead (``jobs``, oldest first); the worker
    answers them in order. ``deadline`` is for the oldest one, counted from when the
    one before it was answered.
    """

    def __init__(self, engine: Engine, inbox: queue.Queue,
                 config: tuple[str | None, int] | None = None, list_voices: bool = True):
        mode = self.mode = engine.mode
        self.config = config if mode == "template" else None
        self.lists_voices = list_voices or mode != "template"
        env = dict(os.environ)
        extra = ({"start_new_session": True} if os.name == "posix" else
                 {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)})
        if mode == "template":
            self.tmpdir = None
            voice, rate = config or (None, DEFAULT_RATE)
            env["VOICEGUIDE_WORKER_CONFIG"] = marshal.dumps(
                engine.template_config(voice, rate, list_voices)).hex()
            cmd = [sys.executable, "-S", TEMPLATE_WORKER]
        else:
            self.tmpdir = tempfile.mkdtemp(prefix="voiceguide-tts-")
            env["VOICEGUIDE_WORKER_PATH"] = json.dumps(sys.path)
            for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                env[name] = "1"
            cmd = [sys.executable, "-c", WORKER_CODE, self.tmpdir,
                   "0" if mode == "engine" else "1", *engine.worker_args()]
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
                inbox.put((self, recv(self.proc.stdout)))
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
            send(self._write, ("synth", key, text, voice, int(rate), timeout))
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
                send(self._write, None)
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


def _stop_all(workers: list[Worker]) -> None:
    while workers:
        workers.pop().stop()


class Pool:
    """Up to :data:`MAX_WORKERS` workers and the loop that feeds them jobs."""

    def __init__(self, engine: Engine, max_workers: int, clip_timeout: float | None):
        self.engine = engine
        self.mode = engine.mode
        self.max_workers = max(1, int(max_workers))
        self.clip_timeout = clip_timeout
        self.workers: list[Worker] = []
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
            self.workers.append(Worker(self.engine, self.inbox, config, self._want_voices))
            self.started += 1

    def _retire(self, keep) -> None:
        """Stop the idle workers for which ``keep(worker)`` is false."""
        for w in list(self.workers):
            if not w.jobs and not keep(w):
                self.workers.remove(w)
                w.stop()

    def _drop(self, worker: Worker) -> None:
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
                                      f"{self.engine.install_hint()}")
                self._start(want if pending else 1, config)
        except BaseException:
            for w in list(self.workers):  # a job still in flight would answer later
                if w.jobs or not w.ready:
                    self._drop(w)
            raise

    def _handle(self, w: Worker, msg: tuple, pending: collections.deque,
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
            raise self.engine.failed(msg[1])
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


