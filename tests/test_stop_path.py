"""The stop path at every moment of every built-in routine, and moves never blind,
through the installed command (``show --json`` and ``show --stop-at``)."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import run_voiceguide
from voiceguide import catalog

LIBRARY = catalog.load_library()
PHRASES, POSITIONS = LIBRARY.phrases, LIBRARY.positions
ROUTINES = ["quick", "morning", "evening", "lower-back"]


def _show_json(*args) -> dict | list:
    result = run_voiceguide("show", *args, "--json", timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("routine", ROUTINES)
def test_every_routine_starts_standing_and_no_position_changes_without_a_spoken_move(
        routine, user_dirs):
    events = _show_json(routine)["events"]
    assert events[0]["position"] == "standing"
    for before, after in zip(events, events[1:]):
        if before["position"] != after["position"]:   # the body moved between them
            assert before.get("move") == [before["position"], after["position"]], before
    moves = {tuple(e["move"]) for e in events if "move" in e}
    for move in moves:
        said = [e for e in events if e.get("move") == list(move) and e["kind"] == "speech"]
        assert said, f"{routine}: the move {move} is never spoken"
    assert events[-1]["position"] != "standing" or routine == "quick" or moves


@pytest.mark.parametrize("routine", ROUTINES)
def test_the_stop_path_at_every_event_names_where_the_body_is_and_leads_up(routine,
                                                                           user_dirs):
    timeline = _show_json(routine)
    events, rate = timeline["events"], timeline["sample_rate"]
    moments = []
    for event in events:   # its first sample, exactly
        moments += ["--stop-at", repr(event["start_sample"] / rate)]
    paths = _show_json(routine, *moments)
    assert len(paths) == len(events)
    warning = PHRASES.stop_help[1]
    for event, path in zip(events, paths):
        assert abs(path["at"] - event["start"]) < 0.002
        assert path["position"] == event["position"], (event, path)
        assert path["move"] == event.get("move")
        lines = path["lines"]
        assert lines[0] in PHRASES.variants["stop_message"][0] + PHRASES.variants["stop_message"][1]
        assert (PHRASES.stop_still if event.get("move") else PHRASES.stop_ease) == lines[1]
        assert warning in lines                         # weak or numb legs: not alone
        place = POSITIONS.positions[event["position"]]
        assert lines[-len(place.finish):] == list(place.finish)   # up from there
        if "mat" in place.needs:                         # from the floor, step by step
            assert PHRASES.stop_get_up in lines and "stand up slowly" in lines[-1]


def test_show_stop_at_prints_the_lines_as_text_and_refuses_a_bad_moment(user_dirs):
    result = run_voiceguide("show", "lower-back", "--stop-at", "10:00")
    assert result.returncode == 0, result.stderr
    head, *lines = result.stdout.splitlines()
    assert head.startswith("Stopped at 10:00: ")
    assert f"  {PHRASES.stop_help[1]}" in lines
    for bad in ("10:75", "soon", "-1", "1:2:3:4"):
        result = run_voiceguide("show", "quick", "--stop-at", bad)
        assert result.returncode == 2 and "--stop-at" in result.stderr, bad
        assert len(result.stderr.strip().splitlines()) == 1
