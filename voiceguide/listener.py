"""Listening for spoken answers on the microphone.

:class:`Listener` records from an input device in the background, cuts the
stream into utterances with a simple energy-based endpointer, recognizes each
utterance with :func:`voiceguide.recognizer.recognize` and delivers every answer
that is not ``none`` on a queue (:attr:`Listener.answers`) and, if given, to a
callback.  While the player speaks, :meth:`Listener.mute` makes it deaf: audio
arriving while muted is thrown away, and an utterance that was in progress is
dropped, so the player never hears itself.

:func:`listen_once` records one answer (for ``voiceguide hear``) and
:func:`input_available` tells, without raising, whether there is a microphone.

The PortAudio callback only copies each block into a bounded queue; the
endpointing and the recognition happen in the listener's own thread.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from typing import Callable

import numpy as np

from voiceguide.errors import DeviceError
from voiceguide.recognizer import Answer, recognize

log = logging.getLogger(__name__)

#: Preferred capture rate; the device's own default is used if it refuses it.
PREFERRED_RATE = 16000
#: Length of one block (and one endpointer frame), in seconds.
BLOCK_SECONDS = 0.03


class Endpointer:
    """Energy-based utterance detection on a stream of mono float blocks.

    A block is *loud* when its RMS level is both ``start_db`` above the tracked
    noise floor and above ``min_level_db`` (dB full scale).  An utterance starts
    after ``start_blocks`` loud blocks in a row (``preroll`` seconds before it
    are kept), and ends after ``hangover`` seconds without a loud block, or when
    it reaches ``max_seconds``.  Utterances with less than ``min_speech``
    seconds of loud audio are dropped as clicks or bumps.
    """

    def __init__(self, rate: int, *, start_db: float = 10.0, min_level_db: float = -50.0,
                 start_blocks: int = 2, preroll: float = 0.3, hangover: float = 0.6,
                 max_seconds: float = 6.0, min_speech: float = 0.12):
        self.rate = rate
        self.start_db = start_db
        self.min_level_db = min_level_db
        self.start_blocks = start_blocks
        self.preroll = preroll
        self.hangover = hangover
        self.max_seconds = max_seconds
        self.min_speech = min_speech
        self.floor_db: float | None = None
        self.reset()

    def reset(self) -> None:
        """Forget any utterance in progress (the noise floor is kept)."""
        self._pre: collections.deque[np.ndarray] = collections.deque()
        self._pre_len = 0
        self._utt: list[np.ndarray] = []
        self._utt_len = 0
        self._loud_run = 0
        self._loud_total = 0
        self._quiet = 0
        self.in_speech = False

    def _level(self, block: np.ndarray) -> float:
        x = block.astype(np.float64)
        if block.dtype.kind == "i":
            x /= 32768.0
        return 10.0 * float(np.log10(np.mean(x ** 2) + 1e-12))

    def feed(self, block: np.ndarray) -> np.ndarray | None:
        """Add one block (int16, or float in -1..1); returns a finished utterance or None."""
        block = np.asarray(block).reshape(-1)
        level = self._level(block)
        if self.floor_db is None:
            self.floor_db = level
        loud = level >= self.floor_db + self.start_db and level >= self.min_level_db
        if not self.in_speech:
            # the floor follows quiet audio quickly downwards, slowly upwards
            if level < self.floor_db:
                self.floor_db = 0.7 * self.floor_db + 0.3 * level
            elif not loud:
                self.floor_db = 0.98 * self.floor_db + 0.02 * level
            self._pre.append(block)
            self._pre_len += len(block)
            while self._pre_len - len(self._pre[0]) >= self.preroll * self.rate + \
                    self.start_blocks * len(block):
                self._pre_len -= len(self._pre.popleft())
            self._loud_run = self._loud_run + 1 if loud else 0
            if self._loud_run >= self.start_blocks:
                self.in_speech = True
                self._utt = list(self._pre)
                self._utt_len = self._pre_len
                self._pre.clear()
                self._pre_len = 0
                self._loud_total = self._loud_run
                self._quiet = 0
            return None
        self._utt.append(block)
        self._utt_len += len(block)
        if loud:
            self._loud_total += 1
            self._quiet = 0
        else:
            self._quiet += 1
        if self._quiet * len(block) >= self.hangover * self.rate or \
                self._utt_len >= self.max_seconds * self.rate:
            return self._finish(len(block))
        return None

    def flush(self) -> np.ndarray | None:
        """End of input: the utterance in progress, if any (else None)."""
        if self.in_speech and self._utt:
            return self._finish(len(self._utt[-1]))
        return None

    def _finish(self, block_len: int) -> np.ndarray | None:
        utt = np.concatenate(self._utt)
        speech = self._loud_total * block_len / self.rate
        self.reset()
        return utt if speech >= self.min_speech else None


def _sounddevice():
    try:
        import sounddevice
    except OSError as e:  # PortAudio library missing
        raise DeviceError(f"no audio input: PortAudio is not available ({e})") from None
    return sounddevice


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
    sd = _sounddevice()
    name = "default input device" if device is None else f"input device {device!r}"
    try:
        info = sd.query_devices(device, "input")
        if info["max_input_channels"] < 1:
            raise DeviceError(f"{name} has no input channels")
        rate = _pick_rate(sd, device)
        stream = sd.InputStream(device=device, channels=1, dtype="int16", samplerate=rate,
                                blocksize=int(rate * BLOCK_SECONDS), callback=callback)
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
        sd = _sounddevice()
        info = sd.query_devices(device, "input")
        if info["max_input_channels"] < 1:
            return False
        rate = _pick_rate(sd, device)
        sd.check_input_settings(device=device, channels=1, dtype="int16", samplerate=rate)
        return True
    except BaseException:  # noqa: BLE001 - promised never to raise
        return False


class Listener:
    """Listens in the background and delivers recognized answers.

    Args:
        on_answer: called (in the listener's thread) with each :class:`Answer`
            whose word is not ``none``; exceptions it raises are logged.
        device: sounddevice input device (index or name); None for the default.
        max_queued: how many audio blocks may wait for the listener's thread
            before new ones are dropped (the PortAudio callback never waits).

    Answers are also put on :attr:`answers`, a :class:`queue.Queue`.

    Use as a context manager, or call :meth:`start` and :meth:`stop`::

        with Listener(print) as listener:
            listener.mute()     # while the player speaks
            ...
            listener.unmute()
    """

    def __init__(self, on_answer: Callable[[Answer], None] | None = None, device=None,
                 *, max_queued: int = 1000):
        self.on_answer = on_answer
        self.device = device
        self.answers: queue.Queue[Answer] = queue.Queue()
        self.rate = PREFERRED_RATE
        self.dropped_blocks = 0
        self._blocks: queue.Queue[tuple[int, np.ndarray]] = queue.Queue(maxsize=max_queued)
        self._muted = False
        self._generation = 0
        self._stream = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # -- the PortAudio callback: copy and go, never block ---------------------
    def _callback(self, indata, frames, time_info, status) -> None:
        if self._muted:
            return
        try:
            self._blocks.put_nowait((self._generation, indata[:, 0].copy()))
        except queue.Full:
            self.dropped_blocks += 1

    # -- control -------------------------------------------------------------
    def start(self) -> "Listener":
        """Open the input device and start listening. Raises DeviceError."""
        if self._stream is not None:
            return self
        stream, self.rate = _open_stream(self.device, self._callback)
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
            raise DeviceError(f"cannot start audio input: {' '.join(str(e).split())}") from None
        self._stream = stream
        return self

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

    def mute(self) -> None:
        """Stop hearing (the player is speaking): audio is discarded until unmute()."""
        self._muted = True
        self._generation += 1

    def unmute(self) -> None:
        """Hear again."""
        self._generation += 1
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
        ep = Endpointer(self.rate)
        generation = self._generation
        while not self._stopping.is_set():
            try:
                gen, block = self._blocks.get(timeout=0.1)
            except queue.Empty:
                continue
            if gen != self._generation or self._muted:
                # recorded before a mute/unmute: the utterance in progress is dropped
                if ep.in_speech:
                    ep.reset()
                continue
            if gen != generation:
                generation = gen
                ep.reset()
            utt = ep.feed(block)
            if utt is not None and not self._muted and self._generation == generation:
                self._deliver(utt)

    def _deliver(self, utt: np.ndarray) -> None:
        try:
            answer = recognize(utt, self.rate)
        except Exception:  # noqa: BLE001 - keep listening whatever happens
            log.exception("recognition failed")
            return
        if answer.word == "none":
            return
        self.answers.put(answer)
        if self.on_answer is not None:
            try:
                self.on_answer(answer)
            except Exception:  # noqa: BLE001
                log.exception("answer callback failed")


def listen_once(seconds: float, device=None) -> Answer:
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
    utt = None
    received = 0
    deadline = time.monotonic() + seconds + 2.0
    try:
        stream.start()
        while received < seconds * rate and time.monotonic() < deadline:
            try:
                block = blocks.get(timeout=0.1)
            except queue.Empty:
                continue
            received += len(block)
            utt = ep.feed(block)
            if utt is not None:
                break
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
        return Answer("none", 1.0, "")
    return recognize(utt, rate)
