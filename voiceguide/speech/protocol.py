"""What the speech processes say to each other, and how a single-use child is run.

Frames are length-prefixed :mod:`marshal` dumps (only plain values travel, and
marshal needs no import in a lean worker). The template worker
(:mod:`voiceguide.speech.template_worker`) cannot import this module (it runs with
``python -S`` and the standard library only), so it has its own copy of the framing;
keep the two in step.
"""

from __future__ import annotations

import marshal
import os
import pickle
import select
import signal
import struct
import time
from typing import Callable

FRAME = struct.Struct("<Q")


def one_line(exc: BaseException | str) -> str:
    """The first non-empty line of an error, without traceback noise."""
    text = str(exc).strip()
    if not text and isinstance(exc, BaseException):
        text = type(exc).__name__
    return text.splitlines()[0].strip() if text else "unknown error"


def send(write: Callable[[bytes], object], obj) -> None:
    """Write one length-prefixed :mod:`marshal` frame with ``write``."""
    data = marshal.dumps(obj)
    write(FRAME.pack(len(data)) + data)


def recv(stream) -> object:
    """Read one frame written by :func:`send`; EOFError at the end of the stream."""
    header = stream.read(8)
    if len(header) < 8:
        raise EOFError
    (size,) = FRAME.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return marshal.loads(data)


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to the file descriptor ``fd``."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class ChildLost(Exception):
    """A single-use child hung (and was killed) or crashed without an answer."""


def in_child(timeout: float, func, *args):
    """Run ``func(*args)`` in a forked single-use child; return its result.

    The result comes back pickled through a pipe. Raises :class:`ChildLost` if the
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
                result = (False, (type(exc).__name__, one_line(exc)))
            write_all(w, pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
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
        raise ChildLost("the speech engine hung")
    try:
        ok, value = pickle.loads(b"".join(chunks))
    except Exception:  # nothing or half an answer: it crashed
        raise ChildLost("the speech engine crashed") from None
    if ok:
        return value
    kind, message = value
    raise {"LookupError": LookupError, "TimeoutError": TimeoutError}.get(kind, RuntimeError)(
        message)


