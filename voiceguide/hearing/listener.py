"""Listening for spoken answers on the microphone.

:class:`Listener` records from an input device in the background, cuts the
stream into utterances and recognizes them (:class:`voiceguide.hearing.bargein.BargeIn`
does both) and hands what it heard (a :class:`~voiceguide.hearing.recognizer.Heard`),
when there is something to act on, to a callback. Each block is stamped
with the time it was captured (the stream's ADC time), so that the guide's own
voice, as the player sent it, can be cancelled from it. While the player
sounds (:meth:`Listener.mute`) only "stop" counts; without echo cancellation
the listener is then deaf, so the player never hears itself.

:func:`listen_once` records one answer (for ``voiceguide hear``) and
:func:`input_available` tells, without raising, whether there is a microphone.

The PortAudio callback only copies each block into a bounded queue; the
endpointing and the recognition happen in the listener's own thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable

import numpy as np

from voiceguide.audio import devices
from voiceguide.audio.clock import StreamClock
from voiceguide.errors import DeviceError, shown
from voiceguide.hearing.bargein import BargeIn, block_size, can_cancel_echo
from voiceguide.hearing.endpointer import Endpointer
from voiceguide.hearing.process import RecognizerProcess
from voiceguide.hearing.recognizer import Heard, recognize
from voiceguide.vocabulary import NO_ANSWER

log = logging.getLogger(__name__)

#: Preferred capture rate; the device's own default is used if it refuses it.
PREFERRED_RATE = 16000


def _pick_rate(sd, device) -> int:
    """16 kHz if the device takes it, else the device's default rate."""
    try:
        sd.check_input_settings(device=device, channels=1, dtype="int16",
                                samplerate=PREFERRED_RATE)
        return PREFERRED_RATE
    except Exception:  # noqa: BLE001 - PortAudio reports refusals in several ways
        info = sd.query_devices(device, "input")
        return int(info["default_samplerate"])


def _open_stream(device, callback):
    """Open (not start) a mono int16 input stream; DeviceError if impossible.

    16-bit integers are what the recognizer uses, and the format every capture
    device and ALSA plugin supports without conversion.
    """
    sd = devices.sounddevice()
    name = "default input device" if device is None else f"input device {shown(device)}"
    try:
        info = sd.query_devices(device, "input")
        if info["max_input_channels"] < 1:
            raise DeviceError(f"{name} has no input channels")
        rate = _pick_rate(sd, device)
        stream = sd.InputStream(device=device, channels=1, dtype="int16", samplerate=rate,
                                blocksize=block_size(rate), callback=callback)
    except DeviceError:
        raise
    except Exception as e:  # noqa: BLE001 - PortAudioError, ValueError (no such device)
        reason = " ".join(str(e).split()) or type(e).__name__
        if device is None:
            raise DeviceError(f"no audio input device (microphone) found: {reason}") from None
        raise DeviceError(f"cannot open {name}: {reason}") from None
    return stream, rate


def input_available(device=None) -> bool:
    """Whether an input device (``device``, or the default) can be opened. Never raises."""
    try:
        sd = devices.sounddevice()
        info = sd.query_devices(device, "input")
        if info["max_input_channels"] < 1:
            return False
        rate = _pick_rate(sd, device)
        sd.check_input_settings(device=device, channels=1, dtype="int16", samplerate=rate)
        return True
    except BaseException:  # noqa: BLE001 - promised never to raise
        return False


class Listener:
    """Listens in the background and hands on what it hears.

    Args:
        on_heard: called (in the listener's thread) with each
            :class:`~voiceguide.hearing.recognizer.Heard` to act on; exceptions
            it raises are logged.
        device: sounddevice input device (index or name); None for the default.
        max_queued: how many audio blocks may wait for the listener's thread
            before new ones are dropped (the PortAudio callback never waits).
        reference: the player's :class:`~voiceguide.hearing.echo.ReferenceTap`. With it
            (and the speexdsp library), the guide's voice is cancelled from the
            microphone and "stop" is heard while the guide speaks (barge-in,
            :mod:`voiceguide.hearing.bargein`); without it the listener is deaf while
            muted. With barge-in, recognition runs in a process of its own
            (:mod:`voiceguide.hearing.process`), so the guide never stutters.

    Use as a context manager, or call :meth:`start` and :meth:`stop`::

        with Listener(print) as listener:
            listener.mute()     # while the player speaks: only "stop" counts
            ...
            listener.unmute()
    """

    def __init__(self, on_heard: Callable[[Heard], None] | None = None, device=None,
                 *, max_queued: int = 1000, reference=None):
        self.on_heard = on_heard
        self.device = device
        self.reference = reference
        self.rate = PREFERRED_RATE
        self.dropped_blocks = 0
        self.bargein = None
        self._blocks: queue.Queue[tuple[float, bool, np.ndarray]] = queue.Queue(maxsize=max_queued)
        self._muted = False
        self._latency = 0.0
        self._stream = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._worker = None   # the recognizer's own process, with barge-in
        self._clock = StreamClock(None)   # no stream yet: callback times fall back

    # -- the PortAudio callback: copy and go, never block ---------------------
    def _callback(self, indata, frames, time_info, status) -> None:
        captured_at = self._clock.at(time_info.inputBufferAdcTime, time.monotonic(),
                                     -(self._latency + frames / self.rate))
        try:
            self._blocks.put_nowait((captured_at, self._muted, indata[:, 0].copy()))
        except queue.Full:
            self.dropped_blocks += 1

    # -- control -------------------------------------------------------------
    def start(self) -> "Listener":
        """Open the input device and start listening. Raises DeviceError."""
        if self._stream is not None:
            return self
        stream, self.rate = _open_stream(self.device, self._callback)
        self._latency = stream.latency
        self._clock = StreamClock(stream)
        self.bargein = self._bargein()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="voiceguide-listener",
                                        daemon=True)
        self._thread.start()
        try:
            stream.start()
        except Exception as e:  # noqa: BLE001
            self._stopping.set()
            self._thread.join()
            stream.close()
            self._close_worker()
            raise DeviceError(f"cannot start audio input: {' '.join(str(e).split())}") from None
        self._stream = stream
        return self

    def _bargein(self) -> BargeIn:
        """The barge-in for the opened stream. When it cancels the guide's voice, it
        decodes while the guide plays: then it recognizes in a process of its own."""
        if not can_cancel_echo(self.reference):
            return BargeIn(self.rate, self.reference)
        self._worker = RecognizerProcess()
        return BargeIn(self.rate, self.reference, recognize=self._worker.recognize,
                       hear_stop=self._worker.hear_stop)

    def stop(self) -> None:
        """Stop listening and close the device (an utterance in progress is dropped)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
            finally:
                stream.close()
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._close_worker()

    def _close_worker(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.close()

    def mute(self) -> None:
        """The player sounds (or is about to): only "stop" counts, heard over the
        guide's cancelled voice; without echo cancellation nothing is heard."""
        self._muted = True

    def unmute(self) -> None:
        """The player is quiet: every answer and command counts."""
        self._muted = False

    @property
    def muted(self) -> bool:
        return self._muted

    def __enter__(self) -> "Listener":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- the listener's thread -------------------------------------------------
    def _run(self) -> None:
        while not self._stopping.is_set():
            self._clock.refresh()
            try:
                captured_at, muted, block = self._blocks.get(timeout=0.1)
            except queue.Empty:
                continue
            heard = self.bargein.feed(block, captured_at, muted)
            if heard is not None:
                self._deliver(heard)

    def _deliver(self, heard: Heard) -> None:
        if self.on_heard is not None:
            try:
                self.on_heard(heard)
            except Exception:  # noqa: BLE001
                log.exception("answer callback failed")


def listen_once(seconds: float, device=None) -> Heard:
    """Record up to ``seconds`` from ``device`` and recognize the first utterance.

    Stops early as soon as an utterance has ended.  Returns ``none`` when
    nothing was said.  Raises DeviceError when there is no usable input device.
    """
    blocks: queue.Queue[np.ndarray] = queue.Queue(maxsize=4000)

    def callback(indata, frames, time_info, status) -> None:
        try:
            blocks.put_nowait(indata[:, 0].copy())
        except queue.Full:
            pass

    stream, rate = _open_stream(device, callback)
    ep = Endpointer(rate)
    deadline = time.monotonic() + seconds + 2.0
    try:
        stream.start()
        utt = _first_utterance(blocks, ep, seconds * rate, deadline)
    except DeviceError:
        raise
    except Exception as e:  # noqa: BLE001
        raise DeviceError(f"audio input failed: {' '.join(str(e).split())}") from None
    finally:
        try:
            stream.stop()
        finally:
            stream.close()
    if utt is None:
        utt = ep.flush()
    if utt is None:
        return Heard(NO_ANSWER, 1.0, "")
    return recognize(utt, rate)


def _first_utterance(blocks: queue.Queue, ep: Endpointer, samples: float,
                     deadline: float) -> np.ndarray | None:
    """The first utterance ``ep`` finds in the first ``samples`` samples taken from
    ``blocks``, or None if none has ended by then (or by the monotonic ``deadline``)."""
    received = 0
    while received < samples and time.monotonic() < deadline:
        try:
            block = blocks.get(timeout=0.1)
        except queue.Empty:
            continue
        received += len(block)
        utt = ep.feed(block)
        if utt is not None:
            return utt
    return None
