"""Customizing: --length, people's own routines (new, check), voices."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from tests.support.cli import run_voiceguide
from voiceguide import paths, user_routines
from voiceguide import catalog
from voiceguide.cli.app import cli


@pytest.mark.parametrize("routine, minutes", [("morning", 20), ("morning", 12),
                                              ("evening", 25), ("lower-back", 14)])
def test_length_hits_its_target_within_5_percent(routine, minutes):
    result = run_voiceguide("show", routine, "--json", "--length", minutes)
    assert result.returncode == 0, result.stderr
    total = json.loads(result.stdout)["total_seconds"]
    assert abs(total - minutes * 60) <= 0.05 * minutes * 60
    assert f"for a target of {minutes}" in result.stderr
    assert " -> " in result.stderr  # says what it changed


def test_length_leaves_out_or_repeats_exercises_and_stays_safe():
    result = run_voiceguide("show", "morning", "--json", "--length", "5")
    assert result.returncode == 0
    assert "left out" in result.stderr
    timeline = json.loads(result.stdout)
    assert abs(timeline["total_seconds"] - 300) <= 15
    library = catalog.load_library()
    for hold in timeline["holds"]:
        low, high = library.techniques[hold["technique"]].movement.range
        assert max(low, 10) <= hold["duration"] <= high
    result = run_voiceguide("show", "quick", "--json", "--length", "18")
    assert result.returncode == 0 and "done twice" in result.stderr
    assert abs(json.loads(result.stdout)["total_seconds"] - 1080) <= 54
    result = run_voiceguide("show", "quick", "--length", "90")   # 90 would repeat past the doses
    assert result.returncode == 2 and "the longest safe version of quick" in result.stderr
    result = run_voiceguide("show", "quick", "--length", "2")
    assert result.returncode == 2
    assert "the shortest safe version of quick" in result.stderr


def test_length_refuses_nonsense():
    result = run_voiceguide("show", "quick", "--length", "0")
    assert result.returncode == 2 and "Invalid value for '--length': 0.0 is not in the range 1<=x<=120" in result.stderr


def test_new_then_check_then_show_round_trip(user_dirs):
    result = run_voiceguide("new", "mine", "--from", "lower-back",
                            env=dict(os.environ, EDITOR=""))
    assert result.returncode == 0, result.stderr
    path = paths.routines_dir() / "mine.toml"
    assert result.stdout.startswith(f"Wrote {path}")
    text = path.read_text()
    assert text.startswith("# mine: your own voiceguide routine.")
    checked = run_voiceguide("check", path)
    assert checked.returncode == 0 and "OK, routine 'Lower back care (mine)', 7 exercises" \
        in checked.stdout
    mine = json.loads(run_voiceguide("show", "mine", "--json").stdout)
    builtin = json.loads(run_voiceguide("show", "lower-back", "--json").stdout)
    assert [s["technique"] for s in mine["sections"]] == \
        [s["technique"] for s in builtin["sections"]]
    listed = run_voiceguide("list").stdout
    assert "mine" in listed and "(yours)" in listed
    assert run_voiceguide("new", "mine").returncode == 2       # exists
    assert run_voiceguide("new", "mine", "--force").returncode == 0


def test_new_without_from_plays_as_is(user_dirs):
    path = user_routines.create("starter")
    assert catalog.check_file(path, catalog.load_library()) == []
    assert "technique = \"pelvic-tilt\"" in path.read_text()


@pytest.mark.parametrize("name, words", [("../evil", "not a plain name"),
                                         ("a/b", "not a plain name"),
                                         ("morning", "built-in routine")])
def test_new_refuses_bad_names(user_dirs, name, words):
    result = CliRunner().invoke(cli, ["new", name])
    assert result.exit_code == 2 and words in result.output
    assert not paths.routines_dir().exists() or not list(paths.routines_dir().iterdir())


def test_new_opens_the_editor(user_dirs, tmp_path):
    log = tmp_path / "edited"
    editor = tmp_path / "editor.sh"
    editor.write_text(f"#!/bin/sh\necho \"$1\" > {log}\n")
    editor.chmod(0o755)
    result = run_voiceguide("new", "edited", env=dict(os.environ, EDITOR=str(editor)))
    assert result.returncode == 0
    assert log.read_text().strip() == str(paths.routines_dir() / "edited.toml")


def test_user_routine_with_a_builtin_name_is_not_shadowed(user_dirs):
    paths.routines_dir().mkdir(parents=True)
    (paths.routines_dir() / "quick.toml").write_text(
        'title = "Mine"\n[[exercise]]\ntechnique = "childs-pose"\n')
    result = run_voiceguide("list")
    assert "built-in routine is already named 'quick'" in result.stderr
    assert json.loads(run_voiceguide("show", "quick", "--json").stdout)["title"] != "Mine"


def test_user_technique_in_a_user_routine(user_dirs):
    paths.techniques_dir().mkdir(parents=True)
    (paths.techniques_dir() / "knee-hug.toml").write_text(
        'title = "Knee hug"\nsetup = ["Lie on your back."]\n'
        '[movement]\nkind = "hold"\nseconds = 25\nrange = [20, 30]\n')
    paths.routines_dir().mkdir(parents=True)
    (paths.routines_dir() / "hug.toml").write_text(
        'title = "Hug"\n[[exercise]]\ntechnique = "knee-hug"\n')
    shown = json.loads(run_voiceguide("show", "hug", "--json").stdout)
    assert shown["holds"][0]["technique"] == "knee-hug"
    assert "knee-hug" in run_voiceguide("list").stdout


def test_check_reports_every_problem_with_lines(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('title = "Bad"\n[[exercise]]\ntechnique = "nope"\n'
                    '[[exercise]]\ntechnique = "childs-pose"\nhold = 5\nfoo = 1\n')
    result = run_voiceguide("check", path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [f"{path}:3: exercise[1].technique: unknown technique 'nope'",
                     f"{path}:7: exercise[2].foo: unknown key; allowed: technique, hold, "
                     f"reps, sides, skip, priority",
                     f"{path}:6: exercise[2].hold: hold 5 is outside the safe range "
                     f"[30, 60] for childs-pose"]


def test_voices_lists_and_filters():
    result = run_voiceguide("voices", "--lang", "en")
    assert result.returncode == 0
    rows = result.stdout.strip().splitlines()
    assert rows and all("en" in row for row in rows)
    everything = run_voiceguide("voices").stdout.strip().splitlines()
    assert len(everything) > len(rows)


def test_voice_by_name_fragment_changes_the_clips(tmp_path):
    us = json.loads(run_voiceguide("show", "quick", "--json", "--voice", "america").stdout)
    gb = json.loads(run_voiceguide("show", "quick", "--json", "--voice", "en-gb").stdout)
    assert us["total_samples"] != gb["total_samples"]   # the cache keys on the voice
    bad = run_voiceguide("show", "quick", "--voice", "zzzvoice")
    assert bad.returncode == 2 and "zzzvoice" in bad.stderr


def test_voice_preview_plays_through_the_device(tmp_path):
    from tests.support.audio import alsa_file_env
    played = tmp_path / "played.wav"
    result = run_voiceguide("voices", "--say", "Breathe in", "--voice", "en-gb",
                            env=alsa_file_env(tmp_path / "home", played))
    assert result.returncode == 0, result.stderr
    assert played.stat().st_size > 10000
