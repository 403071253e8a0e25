#!/usr/bin/env python3
"""Benchmark voiceguide: export speed, memory and time to first sound.

Run from the repository with the project's venv::

    .venv/bin/python scripts/bench.py [--routines morning,quick] [--skip-play]
                                      [--skip-hour] [--json] [--voice joe]

``--voice`` benchmarks another voice (for a Piper voice, ``bash scripts/setup.sh
--piper`` first); its baseline is then Piper's own command line.

This is a benchmark, not a test: it prints figures next to their goals and exits 0
whether or not the goals are met (1 only if the benchmark itself could not run).

Every ``voiceguide`` command runs as a real subprocess, with its own fresh
XDG_CACHE_HOME / XDG_CONFIG_HOME / XDG_DATA_HOME inside a temporary folder, so
neither the user's clip cache nor their settings or own routines take part.

For each routine (default: all from ``voiceguide list --json``):

* length        ``show --json`` → total_seconds
* cold export   ``export ROUTINE -o x.wav`` with an empty clip cache (median of
                ``--cold-runs``, each with its own fresh cache), wall clock
* warm export   the same with the filled cache, best of ``--warm-runs``
* baseline      the routine's distinct spoken texts (speech and check-in events, in
                order, one per line) through ``espeak-ng -s RATE -w out.wav -f
                texts.txt``, median of ``--cold-runs``; with a Piper voice through
                ``python -m piper -m MODEL --length-scale S -i texts.txt -f out.wav``
                (the same model and length scale voiceguide uses)
* RTF           routine length / export time (how many times faster than real time)
* peak RSS      max resident set of the export: read with ``os.wait4`` on that one
                child, so it is exactly that run's own peak (the largest of the export
                process and the descendants it waited for; not their sum)
* first sound   ``play ROUTINE --no-checkins`` on a warm cache to a PulseAudio null
                sink started by this script: ``first_sound`` of the player's trace
                minus ``time.monotonic()`` taken just before ``Popen``; median of
                ``--play-runs``
* cold sound    the same on an empty clip cache (synthesis ahead of the playhead),
                median of ``--cold-play-runs``

Then a generated routine of at least 60 minutes (built-in exercises repeated) is
exported to .wav and .mp3 on a warm cache, and played for ~3 s to the null sink.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from importlib.util import find_spec
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.support.audio import PulseServer  # noqa: E402  (the same PulseAudio set-up as the tests)

GOALS = {
    "cold_ratio": 1.5,          # cold export ≤ 1.5 × espeak-ng baseline
    "warm_morning_s": 0.5,      # warm export of morning < 0.5 s
    "hour_rss_mb": 150.0,       # peak memory for a 60-minute routine < 150 MB
    "first_sound_s": 0.5,       # time to first sound < 0.5 s
    "piper_cold_ratio": 3.0,    # with a Piper voice: cold export ≤ 3 × Piper's own CLI
}
HOUR_SECONDS = 3600.0
PLAY_STOP_AFTER = 1.5           # seconds after Popen before SIGINT (first-sound runs)
HOUR_PLAY_SECONDS = 3.0         # seconds of playing the 60-minute routine
STREAM_WAIT = 20.0              # most seconds to wait for a player's stream to open
RUN_TIMEOUT = 300.0             # most seconds for any one subprocess


class BenchError(Exception):
    """A step of the benchmark could not run."""


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- subprocess runs

class Run:
    """One finished subprocess: wall time, peak RSS, exit status and output."""

    def __init__(self, wall: float, maxrss_mb: float, returncode: int, stdout: str,
                 stderr: str):
        self.wall = wall
        self.maxrss_mb = maxrss_mb
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    def check(self, what: str) -> "Run":
        if self.returncode != 0:
            tail = (self.stderr.strip() or self.stdout.strip()).splitlines()[-5:]
            raise BenchError(f"{what} exited with {self.returncode}: " + " | ".join(tail))
        return self


#: Measured children started and not reaped yet; stopped on the way out.
_CHILDREN: set[subprocess.Popen] = set()


def spawn(cmd: list[str], **kwargs) -> subprocess.Popen:
    """``Popen`` a measured child, remembered until :func:`_wait4` reaps it."""
    proc = subprocess.Popen(cmd, **kwargs)
    _CHILDREN.add(proc)
    return proc


def stop_children() -> None:
    """Stop every measured child still running: SIGINT (voiceguide then closes its
    speech workers), SIGKILL if it is still there after 3 s."""
    for proc in list(_CHILDREN):
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGINT)
                proc.wait(3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            except OSError:
                pass
        _CHILDREN.discard(proc)


def _wait4(proc: subprocess.Popen, timeout: float) -> tuple[int, float]:
    """Reap ``proc`` with ``os.wait4``: (exit code, ru_maxrss in MB).

    ``os.wait4`` gives the rusage of exactly this child (and the descendants it
    reaped), unlike ``getrusage(RUSAGE_CHILDREN)``, whose ru_maxrss is a max over
    every child this process ever had. The child is killed after ``timeout``.
    """
    timer = threading.Timer(timeout, lambda: _kill_quietly(proc))
    timer.start()
    try:
        while True:
            try:
                _, status, usage = os.wait4(proc.pid, 0)
                break
            except InterruptedError:
                continue
    finally:
        timer.cancel()
    code = os.waitstatus_to_exitcode(status)
    _CHILDREN.discard(proc)
    proc.returncode = code  # reaped here: tell Popen, so it never waits itself
    return code, usage.ru_maxrss / 1024.0  # Linux reports KiB


def _kill_quietly(proc: subprocess.Popen) -> None:
    try:
        proc.kill()
    except (ProcessLookupError, OSError):
        pass


def run(cmd: list[str], env: dict, cwd: Path, timeout: float = RUN_TIMEOUT) -> Run:
    """Run ``cmd`` to completion, timing it (wall clock) and reading its peak RSS."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = spawn(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                     stderr=err)
        code, rss = _wait4(proc, timeout)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        return Run(wall, rss, code, out.read(), err.read())


# ---------------------------------------------------------------- PulseAudio

# ---------------------------------------------------------------- the benchmark

class Bench:
    def __init__(self, root: Path, args):
        self.root = root
        self.args = args
        exe = Path(sys.executable).parent / "voiceguide"
        self.vg = [str(exe)] if exe.exists() else [sys.executable, "-m", "voiceguide"]
        self.pulse: PulseServer | None = None
        self.notes: list[str] = []
        self._dirs = 0

    # -- environments --------------------------------------------------------------
    def fresh_env(self, label: str) -> dict:
        """An environment with its own empty cache, config and data folders."""
        self._dirs += 1
        base = self.root / f"{self._dirs:02d}-{label}"
        env = {k: v for k, v in os.environ.items()
               if k not in ("VOICEGUIDE_TRACE", "PULSE_SERVER")}
        for var, sub in (("XDG_CACHE_HOME", "cache"), ("XDG_CONFIG_HOME", "config"),
                         ("XDG_DATA_HOME", "data")):
            (base / sub).mkdir(parents=True)
            env[var] = str(base / sub)
        env["BENCH_DIR"] = str(base)  # for this script only: where to put files
        return env

    def vg_run(self, args: list[str], env: dict, what: str | None = None) -> Run:
        return run(self.vg + args + self.voice_args(args), env,
                   Path(env["BENCH_DIR"])).check(what or "voiceguide " + " ".join(args))

    def voice_args(self, args: list[str]) -> list[str]:
        """``--voice`` for the commands that take a routine, when one was given."""
        if self.args.voice and args and args[0] in ("show", "export", "play"):
            return ["--voice", self.args.voice]
        return []

    def piper_model(self) -> str | None:
        """The model file of the benchmarked voice if it is a Piper voice, else None."""
        if not self.args.voice:
            return None
        from voiceguide.speech import engine_for, resolve_voice

        engine = engine_for(resolve_voice(self.args.voice))
        return str(engine.model) if engine.name == "piper" else None

    def show(self, routine: str, env: dict) -> dict:
        return json.loads(self.vg_run(["show", routine, "--json"], env).stdout)

    def export(self, routine: str, env: dict, suffix: str = ".wav") -> Run:
        out = Path(env["BENCH_DIR"]) / f"out{suffix}"
        return self.vg_run(["export", routine, "-o", str(out), "--force"], env,
                           f"voiceguide export {routine} -o {out.name}")

    # -- the pieces ----------------------------------------------------------------
    def routines(self) -> list[str]:
        env = self.fresh_env("list")
        listed = [r["name"] for r in json.loads(self.vg_run(["list", "--json"],
                                                            env).stdout)["routines"]]
        if not self.args.routines:
            return listed
        wanted = [n.strip() for n in self.args.routines.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in listed]
        if unknown:
            raise BenchError(f"unknown routine(s) {', '.join(unknown)}; "
                             f"built-in: {', '.join(listed)}")
        return wanted

    def baseline(self, timeline: dict, env: dict) -> tuple[float, int]:
        """Median wall time of espeak-ng speaking the routine's texts into one file."""
        texts: list[str] = []
        for event in timeline["events"]:
            if event["kind"] in ("speech", "checkin") and event["text"] not in texts:
                texts.append(event["text"])
        base = Path(env["BENCH_DIR"])
        (base / "texts.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
        rate = str(timeline["pacing"]["rate"])
        cmd = ["espeak-ng", "-s", rate, "-w", str(base / "baseline.wav"),
               "-f", str(base / "texts.txt")]
        model = self.piper_model()
        if model is not None:
            from voiceguide.speech.piper import length_scale

            cmd = [sys.executable, "-m", "piper", "-m", model, "--length-scale",
                   str(length_scale(int(rate))), "-i", str(base / "texts.txt"),
                   "-f", str(base / "baseline.wav")]
        walls = [run(cmd, env, base).check(" ".join(cmd[:3])).wall
                 for _ in range(self.args.cold_runs)]
        return statistics.median(walls), len(texts)

    def play(self, routine: str, env: dict, stop_after: float, label: str,
             after_stream: float = 0.3) -> dict:
        """Play ``routine`` to the null sink, stop it with SIGINT, read its trace.

        SIGINT goes ``stop_after`` s after Popen, but never before ``after_stream`` s
        after the trace says the stream is open, so a slow start is measured instead
        of cut short.
        """
        assert self.pulse is not None
        trace_path = Path(env["BENCH_DIR"]) / f"trace-{label}.jsonl"
        trace_path.unlink(missing_ok=True)
        penv = self.pulse.env(env)
        penv["VOICEGUIDE_TRACE"] = str(trace_path)
        cmd = self.vg + ["play", routine, "--no-checkins"] + self.voice_args(["play"])
        with tempfile.TemporaryFile("w+") as out:
            t0 = time.monotonic()
            proc = spawn(cmd, env=penv, cwd=env["BENCH_DIR"], stdin=subprocess.DEVNULL,
                         stdout=out, stderr=out)
            deadline = t0 + stop_after
            stream_at = None
            while proc.poll() is None:
                now = time.monotonic()
                if stream_at is None:
                    events = _read_trace(trace_path)
                    started = [e["t"] for e in events if e.get("event") == "stream-started"]
                    if started:
                        stream_at = started[0]
                        deadline = max(deadline, stream_at + after_stream)
                    elif now - t0 > STREAM_WAIT:
                        break
                if stream_at is not None and now >= deadline:
                    break
                time.sleep(0.02)
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            code, rss = _wait4(proc, 15.0)
            out.seek(0)
            output = out.read()
        events = _read_trace(trace_path)
        stopped = [e for e in events if e.get("event") == "stopped"]
        first = stopped[-1].get("first_sound") if stopped else None
        if not stopped:
            tail = " | ".join(output.strip().splitlines()[-3:])
            raise BenchError(f"play {routine}: no 'stopped' in the trace (exit {code}): {tail}")
        if code not in (0, 130):
            self.notes.append(f"play {routine}: exit status {code} after SIGINT (expected 130)")
        return {"first_sound_s": None if first is None else first - t0,
                "stream_started_s": None if stream_at is None else stream_at - t0,
                "maxrss_mb": rss, "exit": code}

    # -- per routine ---------------------------------------------------------------
    def routine(self, name: str) -> dict:
        args = self.args
        result: dict = {"routine": name}

        colds = []
        for i in range(args.cold_runs):
            env = self.fresh_env(f"{name}-cold{i}")
            colds.append(self.export(name, env))
        warm_env = env  # the last cold run's cache is now full
        result["cold_export_s"] = statistics.median(r.wall for r in colds)
        result["cold_export_runs_s"] = [r.wall for r in colds]
        result["cold_maxrss_mb"] = max(r.maxrss_mb for r in colds)

        timeline = self.show(name, warm_env)
        result["length_s"] = timeline["total_seconds"]
        result["rate_wpm"] = timeline["pacing"]["rate"]

        warms = [self.export(name, warm_env) for _ in range(args.warm_runs)]
        result["warm_export_s"] = min(r.wall for r in warms)
        result["warm_export_runs_s"] = [r.wall for r in warms]
        result["warm_maxrss_mb"] = max(r.maxrss_mb for r in warms)

        result["baseline_s"], result["texts"] = self.baseline(timeline, warm_env)
        result["cold_ratio"] = result["cold_export_s"] / result["baseline_s"]
        result["rtf_warm"] = result["length_s"] / result["warm_export_s"]
        result["rtf_cold"] = result["length_s"] / result["cold_export_s"]

        result["first_sound_s"] = result["first_sound_cold_s"] = None
        if self.pulse is not None:
            try:
                cold = [self.play(name, self.fresh_env(f"{name}-coldplay{i}"),
                                  PLAY_STOP_AFTER, f"{name}-cold-{i}")["first_sound_s"]
                        for i in range(args.cold_play_runs)]
            except BenchError as err:
                self.notes.append(str(err))
            else:
                good = [f for f in cold if f is not None]
                result["first_sound_cold_s"] = statistics.median(good) if good else None
                result["first_sound_cold_runs_s"] = cold
            try:
                plays = [self.play(name, warm_env, PLAY_STOP_AFTER, f"{name}-{i}")
                         for i in range(args.play_runs)]
            except BenchError as err:
                self.notes.append(str(err))
            else:
                firsts = [p["first_sound_s"] for p in plays]
                if any(f is None for f in firsts):
                    self.notes.append(f"play {name}: no sound reached the device in "
                                      f"{firsts.count(None)} of {len(firsts)} runs")
                good = [f for f in firsts if f is not None]
                result["first_sound_s"] = statistics.median(good) if good else None
                result["first_sound_runs_s"] = firsts
                opened = [p["stream_started_s"] for p in plays
                          if p["stream_started_s"] is not None]
                result["stream_started_s"] = statistics.median(opened) if opened else None
                result["play_maxrss_mb"] = max(p["maxrss_mb"] for p in plays)
        return result

    # -- the 60-minute routine ------------------------------------------------------
    def hour(self) -> dict:
        env = self.fresh_env("hour")
        path = Path(env["BENCH_DIR"]) / "hour.toml"
        pool = builtin_exercises()
        if not pool:
            raise BenchError("no built-in routine files found to build the 60-minute routine")
        count = len(pool)
        for _ in range(8):
            write_routine(path, [pool[i % len(pool)] for i in range(count)])
            timeline = self.show(str(path), env)   # also fills the cache: "warm-ish"
            total = timeline["total_seconds"]
            if total >= HOUR_SECONDS:
                break
            # add exercises one by one, each with its length in this timeline
            # (its section), until the estimate reaches the hour
            lengths = [s["duration"] for s in timeline["sections"] if s["technique"]]
            if len(lengths) != count:   # sections do not match exercises: average
                lengths = [total / count] * count
            estimate = total
            while estimate < HOUR_SECONDS + 1:
                estimate += lengths[count % len(pool)]  # exercise i is pool[i % len(pool)]
                count += 1
        else:
            raise BenchError(f"could not build a 60-minute routine (reached {total:.0f} s)")
        log(f"60-minute routine: {count} exercises, {clock(total)}")
        result: dict = {"length_s": total, "exercises": count,
                        "texts": len({e["text"] for e in timeline["events"] if "text" in e})}
        for suffix in (".wav", ".mp3"):
            log(f"60-minute routine: export {suffix}")
            r = self.export(str(path), env, suffix)
            key = suffix[1:]
            result[f"{key}_export_s"] = r.wall
            result[f"{key}_maxrss_mb"] = r.maxrss_mb
            result[f"{key}_rtf"] = total / r.wall
        if self.pulse is not None:
            log("60-minute routine: play ~3 s")
            try:
                # ~3 s of playing once the stream is open, not 3 s after Popen
                p = self.play(str(path), env, 0.0, "hour", after_stream=HOUR_PLAY_SECONDS)
                result["play_first_sound_s"] = p["first_sound_s"]
                result["play_stream_started_s"] = p["stream_started_s"]
                result["play_maxrss_mb"] = p["maxrss_mb"]
            except BenchError as err:
                self.notes.append(str(err))
        return result


def bargein_cost(routine: str = "quick") -> dict:
    """CPU the listener spends hearing "stop" over the guide: the echo canceller,
    the endpointer and the recognizer on a simulated room (tests/room.py),
    per second of the routine, on one core."""
    from tests.support import room
    from voiceguide.hearing import echo

    if not echo.available():
        raise BenchError("libspeexdsp1 is not installed")
    played, stop_words = room.as_played(routine)
    started = time.process_time()
    result = room.offline(played, 22050, stop_words=stop_words)
    cpu = time.process_time() - started
    return {"routine": routine, "seconds": result.seconds, "cpu_s": cpu,
            "cpu_share": cpu / result.seconds, "self_stops": len(result.answers),
            "dropped_as_echo": result.dropped_as_echo}


def _read_trace(path: Path) -> list[dict]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    events = []
    for line in text.splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            pass  # a line being written right now
    return events


def builtin_exercises() -> list[dict]:
    """Every non-skipped exercise of the built-in routines, as written in their files
    (so holds and reps are within each technique's range)."""
    spec = find_spec("voiceguide")  # finds the package without importing it
    folders = list(spec.submodule_search_locations or []) if spec else []
    folders.append(str(REPO / "voiceguide"))
    for folder in folders:
        routines = Path(folder) / "library" / "routines"
        if routines.is_dir():
            break
    else:
        return []
    exercises = []
    for file in sorted(routines.glob("*.toml")):
        with open(file, "rb") as f:
            data = tomllib.load(f)
        for ex in data.get("exercise", []):
            if not ex.get("skip", False):
                exercises.append({k: ex[k] for k in ("technique", "hold", "reps", "sides")
                                  if k in ex})
    return exercises


def write_routine(path: Path, exercises: list[dict]) -> None:
    lines = ['title = "Hour"',
             'description = "Built-in exercises repeated for a 60-minute benchmark."', ""]
    for ex in exercises:
        lines.append("[[exercise]]")
        for key, value in ex.items():
            lines.append(f"{key} = {json.dumps(value)}")  # str, int, bool: valid TOML
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


# ---------------------------------------------------------------- output

def clock(secs: float | None) -> str:
    """``mm:ss`` (minutes may pass 59), truncated like voiceguide's own clock."""
    if secs is None:
        return "-"
    secs = int(secs)
    return f"{secs // 60:02d}:{secs % 60:02d}"


def fmt(value, spec: str, unit: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{unit}"


def mark(ok: bool | None) -> str:
    return "" if ok is None else (" ok" if ok else " MISS")


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Aligned columns: the first left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in [headers] + rows) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule] + [line(r) for r in rows])


def report(data: dict) -> str:
    g = GOALS
    out = [f"voiceguide benchmark — {data['machine']}", ""]
    piper = data.get("baseline") == "piper"
    ratio_goal = g["piper_cold_ratio"] if piper else g["cold_ratio"]
    if data.get("voice"):
        out[0] += f" — voice {data['voice']}"
        out.insert(1, "")
        out.insert(1, f"the voice: {data.get('voice_id')}")
    headers = ["routine", "length", "cold export", "warm export",
               "piper CLI" if piper else "espeak-ng", "cold/base", "RTF warm", "RTF cold",
               "RSS cold", "RSS warm", "RSS play", "first sound", "cold sound"]
    rows = [["goal", "", "", "<0.5 s (morning)", "", f"<={ratio_goal:g}x", "", "",
             "", "", "", f"<{g['first_sound_s']:g} s", ""]]
    for r in data["routines"]:
        warm_ok = r["warm_export_s"] < g["warm_morning_s"] if r["routine"] == "morning" else None
        first = r.get("first_sound_s")
        rows.append([
            r["routine"], clock(r["length_s"]),
            fmt(r["cold_export_s"], ".2f", " s"),
            fmt(r["warm_export_s"], ".2f", " s") + mark(warm_ok),
            fmt(r["baseline_s"], ".2f", " s"),
            fmt(r["cold_ratio"], ".2f", "x") + mark(r["cold_ratio"] <= ratio_goal),
            fmt(r["rtf_warm"], ".0f", "x"), fmt(r["rtf_cold"], ".0f", "x"),
            fmt(r["cold_maxrss_mb"], ".0f", " MB"), fmt(r["warm_maxrss_mb"], ".0f", " MB"),
            fmt(r.get("play_maxrss_mb"), ".0f", " MB"),
            fmt(first, ".3f", " s") + mark(None if first is None
                                           else first < g["first_sound_s"]),
            fmt(r.get("first_sound_cold_s"), ".3f", " s"),
        ])
    out.append(table(headers, rows))
    out.append("")
    base = ("piper CLI: the routine's distinct texts in one\n  `python -m piper "
            "--length-scale S -i` call" if piper else "espeak-ng: the routine's distinct "
            "texts in one\n  `espeak-ng -s RATE -w` call")
    out.append(("cold: median of {cold} runs, each with an empty clip cache; warm: best of "
                "{warm}; " + base + " (median of {cold}); RTF = routine length / export "
                "time; RSS = peak of the\n  export run (largest process, os.wait4); first "
                "sound: play --no-checkins to a null sink, warm cache, median of {play}\n  "
                "(RSS play: its largest peak); cold sound: the same on an empty cache, "
                "median of {cold_play}.").format(**data["runs"]))
    hour = data.get("hour")
    if hour:
        out += ["", f"60-minute routine ({clock(hour['length_s'])}, {hour['exercises']} "
                f"exercises, {hour['texts']} distinct texts; warm cache)", ""]
        lim = g["hour_rss_mb"]
        rows = []
        for key in ("wav", "mp3"):
            rss = hour[f"{key}_maxrss_mb"]
            rows.append([f"export .{key}", fmt(hour[f"{key}_export_s"], ".2f", " s"),
                         fmt(hour[f"{key}_rtf"], ".0f", "x"), "-",
                         fmt(rss, ".0f", " MB") + mark(rss < lim), f"<{lim:g} MB"])
        if "play_maxrss_mb" in hour:
            rss = hour["play_maxrss_mb"]
            first = hour.get("play_first_sound_s")
            rows.append(["play ~3 s", "-", "-", fmt(first, ".3f", " s"),
                         fmt(rss, ".0f", " MB") + mark(rss < lim), f"<{lim:g} MB"])
        out.append(table(["", "time", "RTF", "first sound", "peak RSS", "goal"], rows))
    listening = data.get("bargein")
    if listening:
        out += ["", f"barge-in (echo canceller, endpointer, recognizer) over {listening['routine']}"
                f" ({clock(listening['seconds'])}, simulated room): {listening['cpu_s']:.1f} s of "
                f"CPU, {100 * listening['cpu_share']:.1f} % of one core; "
                f"{listening['self_stops']} self-stops, {listening['dropped_as_echo']} "
                "utterances dropped as the guide's own echo"]
    if data["notes"]:
        out += ["", "notes:"] + [f"  - {n}" for n in data["notes"]]
    out += ["", f"benchmark took {data['elapsed_s']:.0f} s"]
    return "\n".join(out)


def machine() -> str:
    try:
        espeak = subprocess.run(["espeak-ng", "--version"], capture_output=True,
                                text=True).stdout.split(":")[1].split()[0]
    except (OSError, IndexError):
        espeak = "?"
    return (f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}, espeak-ng {espeak}")


# ---------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--routines", help="comma-separated routine names (default: all)")
    parser.add_argument("--skip-play", action="store_true",
                        help="no PulseAudio, no time to first sound")
    parser.add_argument("--skip-hour", action="store_true",
                        help="leave out the 60-minute routine")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--cold-runs", type=int, default=3, help="cold exports (median)")
    parser.add_argument("--warm-runs", type=int, default=3, help="warm exports (best)")
    parser.add_argument("--play-runs", type=int, default=5, help="plays (median)")
    parser.add_argument("--cold-play-runs", type=int, default=1,
                        help="plays on an empty cache (median)")
    parser.add_argument("--voice", help="a voice id, part of a name or a Piper model file "
                                        "(default: the engine's default voice)")
    args = parser.parse_args(argv)
    for name in ("cold_runs", "warm_runs", "play_runs", "cold_play_runs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if shutil.which("espeak-ng") is None:
        print("bench: espeak-ng is not installed (bash scripts/setup.sh)", file=sys.stderr)
        return 1

    # SIGTERM → SystemExit, so the finally below still stops PulseAudio
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="vgbench-", ignore_cleanup_errors=True) as tmp:
        bench = Bench(Path(tmp), args)
        try:
            if not args.skip_play:
                bench.pulse = PulseServer(Path(tmp) / "pulse")  # set first: stopped in finally
                try:
                    bench.pulse.start()
                except RuntimeError as err:
                    bench.pulse = None
                    bench.notes.append(f"{err}; time to first sound left out")
            results = []
            for name in bench.routines():
                log(f"routine {name}")
                results.append(bench.routine(name))
            log("barge-in: the listener's cost over the quick routine")
            try:
                listening = bargein_cost()
            except BenchError as err:
                listening = None
                bench.notes.append(f"barge-in: {err}")
            hour = None
            if not args.skip_hour:
                try:
                    hour = bench.hour()
                except BenchError as err:
                    bench.notes.append(f"60-minute routine: {err}")
        except BenchError as err:
            print(f"bench: {err}", file=sys.stderr)
            return 1
        finally:
            # no second Ctrl-C or SIGTERM may cut the clean-up short
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            stop_children()
            if bench.pulse is not None:
                bench.pulse.stop()
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    model = bench.piper_model()
    data = {"machine": machine(), "goals": GOALS, "routines": results, "hour": hour,
            "bargein": listening,
            "voice": args.voice, "baseline": "piper" if model else "espeak-ng",
            "voice_id": model or args.voice,
            "runs": {"cold": args.cold_runs, "warm": args.warm_runs, "play": args.play_runs,
                     "cold_play": args.cold_play_runs},
            "notes": bench.notes, "elapsed_s": time.monotonic() - started}
    if args.json:
        print(json.dumps(data, indent=1))
    else:
        print(report(data))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        sys.exit(130)
