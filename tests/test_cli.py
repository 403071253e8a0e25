"""CLI: list and show through click's runner, and the installed command for real."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from voiceguide.cli import cli
from tests.conftest import run_voiceguide


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
    (["--hold", "0"], "--hold: hold must be between 5 and 300"),
    (["--hold", "1200"], "--hold: hold must be between 5 and 300"),
    (["--rate", "5"], "--rate: speech rate"),
    (["--pace", "zippy"], "--pace: expected a pace"),
    (["--breath", "4"], "--breath: breath pattern must look like 4-6"),
    (["--reps", "2.5"], "--reps: reps must be a whole number"),
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
