"""CLI: list and show through click's runner, and the installed command for real."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from click.testing import CliRunner

from tests.support.cli import run_voiceguide, voiceguide_command
from voiceguide import settings
from voiceguide.cli.app import cli
from voiceguide.routine import pacing


def invoke(*args):
    return CliRunner().invoke(cli, list(args))


def test_list_json():
    result = invoke("list", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    names = {r["name"] for r in data["routines"]}
    assert {"morning", "evening", "lower-back", "quick"} <= names
    assert all(set(r) == {"name", "title", "minutes", "estimated"} for r in data["routines"])
    assert {"id": "cat-cow", "title": "Cat and cow"} in data["techniques"]
    morning = next(r for r in data["routines"] if r["name"] == "morning")
    assert 14.5 <= morning["minutes"] <= 16.5   # as the README says


def test_list_text():
    result = invoke("list")
    assert result.exit_code == 0
    assert "morning" in result.output and "knee-to-chest" in result.output


def test_show_text_has_timestamps_sections_and_total():
    result = invoke("show", "morning")
    assert result.exit_code == 0, result.output
    assert "== Marching in place" in result.output
    assert "00:00" in result.output and "total" in result.output.splitlines()[-1]
    assert "[hold 25 s, left]" in result.output


def test_show_json_shape():
    result = invoke("show", "morning", "--json", "--pace", "slow", "--breath", "4-2-6-0")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["routine"] == "morning"
    assert {"start", "duration", "kind", "section"} <= set(data["events"][0])
    assert all("text" in e for e in data["events"] if e["kind"] in ("speech", "checkin"))
    assert {e["kind"] for e in data["events"]} == {"speech", "cue", "silence", "checkin"}
    assert {"title", "technique", "start", "duration"} <= set(data["sections"][1])
    hold = data["holds"][0]
    assert set(hold) == {"technique", "side", "start", "duration"}
    total = sum(e["duration"] for e in data["events"])
    assert abs(total - data["total_seconds"]) < 1e-3


def test_show_hold_option_sets_every_hold():
    data = json.loads(invoke("show", "quick", "--json", "--hold", "25").output)
    assert data["holds"] and all(h["duration"] == 25 for h in data["holds"])
    rounded = json.loads(invoke("show", "quick", "--json", "--hold", "12").output)
    assert all(h["duration"] == 10 for h in rounded["holds"])   # said aloud: multiples of 5


@pytest.mark.parametrize("args, words", [
    (["--hold", "0"], "Invalid value for '--hold': 0.0 is not in the range 5<=x<=300"),
    (["--hold", "1200"], "Invalid value for '--hold': 1200.0 is not in the range 5<=x<=300"),
    (["--rate", "5"], "Invalid value for '--rate': 5 is not in the range 80<=x<=300"),
    (["--pace", "zippy"], "--pace: expected a pace"),
    (["--breath", "4"], "--breath: breath pattern must look like 4-6"),
    (["--reps", "2.5"], "Invalid value for '--reps': '2.5' is not a valid integer range"),
])
def test_out_of_range_pacing_is_refused(args, words):
    result = invoke("show", "morning", *args)
    assert result.exit_code == 2
    assert words in result.output
    assert "Traceback" not in result.output


def test_unknown_routine_suggests():
    result = invoke("show", "evenin")
    assert result.exit_code == 2
    assert "did you mean 'evening'" in result.output


def test_show_path_to_own_routine(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('title = "Mine"\n[[exercise]]\ntechnique = "childs-pose"\n')
    data = json.loads(invoke("show", str(path), "--json").output)
    assert data["routine"] == "mine" and len(data["sections"]) == 3


def test_installed_command_in_a_real_subprocess(tmp_path):
    result = run_voiceguide("show", "morning", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["routine"] == "morning"
    bad = tmp_path / "bad.toml"
    bad.write_text('title = "Bad"\n[[exercise]]\ntechnique = "knee-to-chest"\nhold = -1\n')
    result = run_voiceguide("show", bad)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"voiceguide: {bad}:4: exercise[1].hold: "
                                     "must be greater than 0, not -1")
    result = run_voiceguide("show")
    assert result.returncode == 2 and "Missing argument" in result.stderr


def test_python_dash_m():
    import subprocess
    import sys
    result = subprocess.run([sys.executable, "-m", "voiceguide", "list", "--json"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "morning" in result.stdout


NUMERIC_OPTIONS = [
    ("show", "--hold", pacing.HOLD_LIMITS, "FLOAT RANGE"),
    ("show", "--reps", pacing.REPS_LIMITS, "INTEGER RANGE"),
    ("show", "--rate", pacing.RATE_LIMITS, "INTEGER RANGE"),
    ("show", "--rest", pacing.REST_LIMITS, "FLOAT RANGE"),
    ("show", "--length", pacing.LENGTH_LIMITS, "FLOAT RANGE"),
    ("play", "--checkin-timeout", settings.CHECKIN_TIMEOUT_LIMITS, "FLOAT RANGE"),
    ("voices", "--rate", pacing.RATE_LIMITS, "INTEGER RANGE"),
]


@pytest.mark.parametrize("command, option, limits, kind", NUMERIC_OPTIONS)
def test_numeric_options_are_typed_ranges_equal_to_the_settings_limits(command, option,
                                                                       limits, kind):
    """Help shows the type and the range, which are the ones the settings file obeys."""
    low, high = limits
    text = " ".join(invoke(command, "--help").output.split())
    assert f"{option} {kind}" in text
    assert f"[{low}<=x<={high}]" in text


def test_out_of_range_numbers_are_one_line_through_the_installed_command():
    """Below, above, not a number, NaN: exit 2, one line naming the option, in click's
    style, no traceback, for every numeric option."""
    for command, option, (low, high), kind in NUMERIC_OPTIONS:
        for value in (str(low - 1), str(high + 1), "many", "nan"):
            args = [command, "quick", option, value] if command != "voices" else \
                [command, option, value]
            result = run_voiceguide(*args)
            assert result.returncode == 2, (args, result.stderr)
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and "Traceback" not in result.stderr, (args, lines)
            assert lines[0].startswith(f"voiceguide: Invalid value for '{option}': "), lines
            assert f"(see 'voiceguide {command} --help')" in lines[0]


@pytest.mark.parametrize("words", [["list"], ["list", "--json"], ["history"],
                                   ["history", "--csv"], ["config", "show"], ["voices"],
                                   ["show", "quick"]])
def test_a_reader_that_closed_the_pipe_is_no_error(words):
    """``voiceguide list | head -1``: a reader that went away is normal, so the
    command ends in silence with status 0. The pipe's read end is closed before the
    command starts, so its first write always meets the closed pipe."""
    read, write = os.pipe()
    os.close(read)
    try:
        result = subprocess.run(voiceguide_command() + words, stdout=write,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                                timeout=120)
    finally:
        os.close(write)
    assert (result.returncode, result.stderr) == (0, "")
