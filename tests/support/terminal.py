"""The installed command on a pseudo-terminal, driven as a person would, with a trace
of the player (``VOICEGUIDE_TRACE``)."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import termios
import time

from tests.support.cli import voiceguide_command


def _controlling_terminal():
    """In the child: make the pty its controlling terminal, so ^C sends SIGINT."""
    import fcntl
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """The command running on a pseudo-terminal, with a trace of the player."""

    def __init__(self, args, env, trace, stderr=None):
        """Start the command; ``stderr`` (an open file) takes its standard error
        instead of the terminal, to read what it says after the terminal hung up."""
        self.master, self.slave = pty.openpty()
        self.trace_path = trace
        env = dict(env, VOICEGUIDE_TRACE=str(trace), TERM="xterm")
        self.started = time.monotonic()
        self.process = subprocess.Popen(voiceguide_command() + [str(a) for a in args],
                                        stdin=self.slave, stdout=self.slave,
                                        stderr=stderr or self.slave, env=env,
                                        start_new_session=True,
                                        preexec_fn=_controlling_terminal)
        self.output = b""

    def read(self, seconds=0.0) -> str:
        deadline = time.monotonic() + seconds
        while True:
            ready, _, _ = select.select([self.master], [], [], max(0, deadline - time.monotonic()))
            if not ready:
                return self.output.decode("utf-8", "replace")
            try:
                self.output += os.read(self.master, 65536)
            except OSError:
                return self.output.decode("utf-8", "replace")

    def events(self) -> list[dict]:
        if not self.trace_path.exists():
            return []
        return [json.loads(line) for line in self.trace_path.read_text().splitlines()]

    def wait_for(self, event, timeout=60.0, **match) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.read(0.02)
            for item in self.events():
                if item["event"] == event and all(item.get(k) == v for k, v in match.items()):
                    return item
            if self.process.poll() is not None:
                break
        raise AssertionError(f"no {event} {match} in trace; output: {self.read()[-500:]}")

    def press(self, keys: str) -> float:
        sent = time.monotonic()
        os.write(self.master, keys.encode())
        return sent

    def finish(self, timeout=60) -> int:
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            self.read(0.05)
        if self.process.poll() is None:
            self.process.kill()
        return self.process.wait()

    def hang_up(self) -> None:
        """Close the terminal as a closed window or a dropped ssh does: the kernel
        sends the command SIGHUP, and its terminal answers every read and write with
        an error from then on."""
        os.close(self.slave)
        os.close(self.master)
        self.master = self.slave = -1

    def close(self):
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass
