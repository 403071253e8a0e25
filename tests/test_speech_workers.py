"""The speech package's worker programs, run as the pool runs them (real processes,
real espeak-ng), and the engine interface every engine implements."""

from __future__ import annotations

import marshal
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from voiceguide.speech import engine_for, espeak, piper, pool, protocol, template_worker
from voiceguide.speech.audio import finish_clip
from voiceguide.speech.engine import Engine
from voiceguide.timing.timeline import SAMPLE_RATE


def start_template(voice=None, rate=160, voices=True) -> subprocess.Popen:
    """The template worker, started exactly as the pool starts it."""
    engine = espeak.Pyttsx3Engine()
    env = dict(os.environ)
    env["VOICEGUIDE_WORKER_CONFIG"] = marshal.dumps(
        engine.template_config(voice, rate, voices)).hex()
    return subprocess.Popen([sys.executable, "-S", pool.TEMPLATE_WORKER],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)


def ask(proc: subprocess.Popen, message) -> object:
    protocol.send(lambda data: (proc.stdin.write(data), proc.stdin.flush()), message)
    return protocol.recv(proc.stdout)


def test_importing_the_template_worker_does_nothing():
    assert callable(template_worker.main)
    assert os.path.basename(pool.TEMPLATE_WORKER) == "template_worker.py"
    assert os.path.samefile(pool.TEMPLATE_WORKER, template_worker.__file__)


TEMPLATE = pytest.mark.skipif(espeak.Pyttsx3Engine().mode != "template",
                              reason="not Linux with pyttsx3's espeak binding")


@TEMPLATE
def test_template_worker_program_speaks_its_protocol():
    """Run by path with ``python -S``: it says ready (with the voices), answers a job
    with raw espeak-ng samples, and exits when told to, printing nothing."""
    start = time.perf_counter()
    proc = start_template()
    try:
        ready = protocol.recv(proc.stdout)
        started = time.perf_counter() - start
        assert ready[0] == "ready" and any(v[0] == "gmw/en-us" for v in ready[1])
        kind, key, raw, rate = ask(proc, ("synth", "k1", "Relax your jaw.", None, 160, 30.0))
        assert (kind, key, rate) == ("raw", "k1", 22050)
        clip = finish_clip(np.frombuffer(raw, dtype="<i2"), rate)
        other = ask(proc, ("synth", "k2", "Relax your jaw.", "gmw/en-us", 160, 30.0))
        assert other[0] == "error" and "another voice or rate" in other[3]
        protocol.send(lambda data: (proc.stdin.write(data), proc.stdin.flush()), None)
        assert proc.wait(10) == 0
        assert proc.stderr.read() == b""
    finally:
        proc.kill()
        proc.wait()
    assert started < 5.0  # lean: no numpy, no voiceguide (about 30 ms when idle)
    assert len(clip) / SAMPLE_RATE > 0.5


@TEMPLATE
def test_template_worker_reports_an_unknown_voice_per_job():
    proc = start_template(voice="zz/none", voices=False)
    try:
        assert protocol.recv(proc.stdout)[0] == "ready"
        answer = ask(proc, ("synth", "k", "Hello.", "zz/none", 160, 30.0))
        assert answer[:3] == ("error", "k", "voice") and "zz/none" in answer[3]
    finally:
        proc.kill()
        proc.wait()


def test_every_engine_implements_the_interface():
    joe = next(v for v in piper.list_voices() if v.id == "piper:en_US-joe-medium")
    for engine in (engine_for(None), engine_for(joe.id)):
        assert isinstance(engine, Engine)
        assert engine.name and engine.mode in ("template", "fork", "engine")
        assert engine.key_name().startswith(engine.name)
        assert engine.install_hint()
        assert engine.worker_args()[0] in ("pyttsx3", "piper")
    assert "onnxruntime" in engine_for(joe.id).version()
