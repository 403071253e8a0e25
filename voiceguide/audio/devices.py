"""Audio output devices through PortAudio (``sounddevice``), and whether one hung.

Cheap to import: ``sounddevice`` itself is imported only when a device is used
(:func:`sounddevice`, the one place for the output and the microphone alike), and on
Linux only after a child process has started PortAudio safely: a broken ALSA
configuration makes PortAudio abort the process it starts in.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from dataclasses import dataclass

from voiceguide.errors import DeviceError, InputError, shown

NO_DEVICE = ("no usable audio output device; make a file instead with "
             "'voiceguide export ROUTINE -o routine.mp3'")


def start_early() -> threading.Thread:
    """Initialise PortAudio in the background while the routine is prepared.

    Importing ``sounddevice`` and scanning devices takes a noticeable part of the
    time to first sound; its C calls release the GIL, so this overlaps with
    loading and compiling. Errors are left for :func:`resolve_output` to report.
    """
    def warm() -> None:
        try:
            output_devices()
        except Exception:  # reported properly later, on the main thread
            pass

    thread = threading.Thread(target=warm, daemon=True, name="voiceguide-portaudio")
    thread.start()
    return thread


_devices: list | None = None
_stuck = False


def mark_stuck() -> None:
    """Note that PortAudio could not let go of a device (its close hung)."""
    global _stuck
    _stuck = True


def is_stuck() -> bool:
    """True once PortAudio could not let go of a device: the process should then
    exit without waiting for PortAudio's own clean-up, which would hang too."""
    return _stuck


ALSA_FILES = "~/.asoundrc, /etc/asound.conf or ALSA_CONFIG_PATH"
_probe_lock = threading.Lock()
_probed: DeviceError | None | bool = False   # False: not probed yet


def _probe_audio_system() -> DeviceError | None:
    """Start PortAudio once in a child process first (Linux): a missing or broken ALSA
    configuration makes it abort the whole process, with no message, where no error
    can be caught. The child's ending says whether it is safe here."""
    try:
        done = subprocess.run([sys.executable, "-c", "import sounddevice"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None   # the in-process start reports what is wrong, if anything
    if done.returncode < 0 or done.returncode > 128:
        return DeviceError("the audio system aborted while starting: the ALSA "
                           f"configuration is missing or broken (check {ALSA_FILES})")
    return None


def sounddevice():
    """The ``sounddevice`` module, or a :class:`DeviceError` when PortAudio is missing
    or cannot start (a broken or missing ALSA configuration, say)."""
    global _probed
    if sys.platform.startswith("linux") and "sounddevice" not in sys.modules:
        with _probe_lock:
            if _probed is False:
                _probed = _probe_audio_system()
        if _probed is not None:
            raise _probed
    try:
        import sounddevice as sd
    except OSError:
        raise DeviceError("the PortAudio library is missing; install it with "
                          "'sudo apt-get install libportaudio2'") from None
    except Exception as exc:   # sounddevice.PortAudioError: Pa_Initialize failed
        detail = str(exc.args[0]) if exc.args else type(exc).__name__
        raise DeviceError(f"the audio system could not start ({detail}); check "
                          f"{ALSA_FILES}") from None
    return sd


@dataclass
class Device:
    """One output device."""

    index: int
    name: str
    hostapi: str
    channels: int
    default_rate: float
    default: bool


def output_devices(refresh: bool = False) -> list[Device]:
    """Every device that can play sound (scanned once per process unless ``refresh``)."""
    global _devices
    if _devices is not None and not refresh:
        return _devices
    sd = sounddevice()
    try:
        devices = sd.query_devices()
        default = sd.default.device[1]
        hostapis = sd.query_hostapis()
    except sd.PortAudioError:
        return []
    _devices = [Device(i, d["name"], hostapis[d["hostapi"]]["name"], d["max_output_channels"],
                       d["default_samplerate"], i == default)
                for i, d in enumerate(devices) if d["max_output_channels"] > 0]
    return _devices


def resolve_output(spec: str | None) -> int | None:
    """A device number or a case-insensitive part of its name → device index.

    ``None`` means the default device, which must exist.
    """
    devices = output_devices()
    if not devices:
        raise DeviceError(NO_DEVICE)
    if spec is None:
        return None
    if spec.strip().isdigit():
        index = int(spec)
        if any(d.index == index for d in devices):
            return index
        raise InputError(f"--device: no output device number {index} "
                         f"(see 'voiceguide devices')")
    matches = [d for d in devices if spec.lower() in d.name.lower()]
    if not matches:
        raise InputError(f"--device: no output device matches {shown(spec)} "
                         f"(see 'voiceguide devices')")
    return matches[0].index
