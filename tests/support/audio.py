"""Real audio devices on a machine with no sound card.

* ``alsa_file_env``: a HOME whose ``~/.asoundrc`` makes ALSA's default device a
  ``file`` plugin over ``null``: everything played lands in a WAV file, with no
  clock, so a routine plays in a second or two. PortAudio reads the ALSA
  configuration when it starts, so it must be used by a fresh process.
* ``PulseServer``: a real PulseAudio server with a null sink and a real-time
  clock, reached through ALSA's pulse plugin, for pause, Ctrl-C and timing;
  optionally with a room in front of it (PulseAudio's own convolution sink with
  a room impulse response), whose echo the null sink's monitor hears.

Nothing here is a mock: the player talks to PortAudio, PortAudio to ALSA.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np


def alsa_file_env(home: Path, played: Path, capture: Path | None = None) -> dict:
    """Environment for a subprocess whose default ALSA device writes to ``played``.

    ``capture`` (raw S16_LE mono at 16 kHz) becomes the microphone when given.
    """
    home.mkdir(parents=True, exist_ok=True)
    # ALSA's null capture returns garbage, not silence: a silent microphone reads zeros
    infile = capture if capture is not None else "/dev/zero"
    capture_pcm = f'{{ type file slave.pcm "null" file "/dev/null" infile "{infile}" format "raw" }}'
    (home / ".asoundrc").write_text(f"""
pcm.!default {{
    type asym
    playback.pcm {{ type plug slave.pcm "vgplay" }}
    capture.pcm {{ type plug slave {{ pcm {capture_pcm} format S16_LE rate 16000 channels 1 }} }}
}}
pcm.vgplay {{
    type file
    slave.pcm "null"
    file "{played}"
    format "wav"
}}
""")
    env = os.environ.copy()
    env["HOME"] = str(home)
    env.pop("PULSE_SERVER", None)
    return env


def read_played(path: Path) -> np.ndarray:
    """Samples of a WAV written by ALSA's file plugin.

    The plugin writes the stream's float32 frames but labels the header as
    integer PCM, so the data chunk is read as float32 directly.
    """
    raw = path.read_bytes()
    start = raw.index(b"data") + 8
    usable = (len(raw) - start) // 4 * 4
    return np.frombuffer(raw[start:start + usable], dtype="<f4")


def trim_silence(samples: np.ndarray) -> np.ndarray:
    """Without the leading and trailing zeros a device may add."""
    nonzero = np.flatnonzero(samples)
    return samples[nonzero[0]:nonzero[-1] + 1] if len(nonzero) else samples[:0]


class PulseServer:
    """A private PulseAudio server with a null sink, all inside ``root``.

    Shared by the tests and ``scripts/bench.py``.
    """

    def __init__(self, root: Path, room: Path | None = None):
        """``room``: a mono WAV impulse response; the server then has a sink
        ``vgroom`` that convolves what is played into it with the response and
        plays the result into the null sink (see :meth:`room_env`)."""
        self.root = root
        self.room = room
        self.home = root / "home"
        self.run = root / "run"
        self.process: subprocess.Popen | None = None
        self.log_path = root / "pulseaudio.log"

    @property
    def socket(self) -> Path:
        return self.run / "native"

    def start(self) -> "PulseServer":
        """Start it and wait for its socket; ``RuntimeError`` if it does not come up."""
        if shutil.which("pulseaudio") is None:
            raise RuntimeError("pulseaudio is not installed (bash scripts/test.sh installs it)")
        self.home.mkdir(parents=True, exist_ok=True)
        self.run.mkdir(parents=True, exist_ok=True)
        os.chmod(self.run, 0o700)
        (self.home / ".asoundrc").write_text("pcm.!default { type pulse }\n"
                                             "ctl.!default { type pulse }\n")
        # The null sink keeps its rate: by default PulseAudio moves an idle sink to
        # its "alternate" rate (48 kHz) for a stream that suits it. After a session
        # with a 16 kHz microphone on its monitor the sink stayed at 48 kHz, and
        # the next player had played 0.46 s less of the routine in the same time
        # (its sound started later, resampled)
        conf = self.home / ".config" / "pulse"
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "daemon.conf").write_text("default-sample-rate = 22050\n"
                                          "alternate-sample-rate = 22050\n")
        env = dict(os.environ, HOME=str(self.home), PULSE_RUNTIME_PATH=str(self.run),
                   XDG_RUNTIME_DIR=str(self.run))
        env.pop("PULSE_SERVER", None)
        with open(self.log_path, "w") as logfile:
            self.process = subprocess.Popen(
                ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1",
                 "--use-pid-file=no",
                 f"--load=module-native-protocol-unix socket={self.socket} auth-anonymous=1",
                 "--load=module-null-sink sink_name=vgnull rate=22050",
                 *([f"--load=module-virtual-surround-sink sink_name=vgroom "
                    f"sink_master=vgnull hrir={self.room}"] if self.room else [])],
                env=env, stdin=subprocess.DEVNULL, stdout=logfile, stderr=logfile,
                start_new_session=True)  # its owner stops it, not the terminal
        deadline = time.monotonic() + 15
        while not self.socket.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = self.log_path.read_text(errors="replace").strip().splitlines()[-3:]
                self.stop()
                raise RuntimeError("PulseAudio did not start: " + " | ".join(tail))
            time.sleep(0.05)
        return self

    def env(self, base: dict | None = None) -> dict:
        """Environment (``base`` or this process's) for a client of the null sink.

        The runtime folder is the server's: without one, each PulseAudio client
        makes a ``/tmp/pulse-*`` folder of its own and leaves it behind."""
        return dict(os.environ if base is None else base, HOME=str(self.home),
                    XDG_RUNTIME_DIR=str(self.run), PULSE_RUNTIME_PATH=str(self.run),
                    PULSE_SERVER=f"unix:{self.socket}")

    def room_env(self, base: dict | None = None) -> dict:
        """Environment for a client in the room: what it plays goes through the
        room's impulse response into the null sink, and its microphone is the
        null sink's monitor (it hears itself, and everything else in the room)."""
        return dict(self.env(base), PULSE_SINK="vgroom", PULSE_SOURCE="vgnull.monitor")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
