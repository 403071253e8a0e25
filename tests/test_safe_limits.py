"""--length and --breath within safe limits, through the installed command: no
exercise more than twice, every technique's session total within its dose, a
protecting step kept with what it protects, breath phases and holds within limits."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from tests.support.cli import run_voiceguide
from voiceguide import catalog
from voiceguide.routine.model import Breath, Cycle, Flow, Hold

LIBRARY = catalog.load_library()
ROUTINES = sorted(LIBRARY.builtin_routines)
LONGEST = re.compile(r"^voiceguide: --length (\d+): the longest safe version of ([a-z-]+) .* "
                     r"is (\d+\.\d) minutes$")


def spoken_seconds(text: str) -> int:
    """The seconds a flow's start line says ("Keep going for 2 minutes and 5 seconds.")."""
    minutes = re.search(r"(\d+) minutes?", text)
    secs = re.search(r"(\d+) seconds", text)
    return (int(minutes.group(1)) * 60 if minutes else 0) + (int(secs.group(1)) if secs else 0)


def session_totals(timeline: dict) -> dict[str, float]:
    """Each technique's total in the timeline: breath and cycle rounds, the holds of
    its busiest side, a flow's seconds."""
    technique_of = {i: s["technique"] for i, s in enumerate(timeline["sections"])}
    totals: Counter = Counter()
    for event in timeline["events"]:
        technique = technique_of[event["section"]]
        if technique is None:
            continue
        movement = LIBRARY.techniques[technique].movement
        if isinstance(movement, Breath) and event.get("cue") == "inhale":
            totals[technique] += 1
        elif isinstance(movement, Cycle) and event.get("text") == movement.steps[0].say:
            totals[technique] += 1
        elif isinstance(movement, Flow) and event.get("text", "").startswith("Keep going for"):
            totals[technique] += spoken_seconds(event["text"])
    sides = Counter((h["technique"], h["side"]) for h in timeline["holds"])
    for (technique, _), count in sides.items():
        totals[technique] = max(totals[technique], count)
    return totals


def assert_within_doses(timeline: dict) -> None:
    sections = Counter(s["technique"] for s in timeline["sections"] if s["technique"])
    assert max(sections.values()) <= 2, sections          # no exercise more than twice
    for technique, total in session_totals(timeline).items():
        movement = LIBRARY.techniques[technique].movement
        low, high = movement.reps_range if isinstance(movement, Hold) else movement.range
        assert low <= total <= high, (technique, total, (low, high))
    for hold in timeline["holds"]:
        low, high = LIBRARY.techniques[hold["technique"]].movement.range
        assert low <= hold["duration"] <= high, hold


@pytest.mark.parametrize("routine", ROUTINES)
def test_length_stays_within_doses_or_names_the_longest_safe_length(routine):
    for minutes in (30, 45, 60):
        result = run_voiceguide("show", routine, "--length", minutes, "--json")
        if result.returncode == 2:
            assert_names_the_longest(result.stderr, routine, minutes)
            continue
        assert result.returncode == 0, result.stderr
        timeline = json.loads(result.stdout)
        assert abs(timeline["total_seconds"] - minutes * 60) <= 0.05 * minutes * 60
        assert_within_doses(timeline)


def assert_names_the_longest(stderr: str, routine: str, minutes: int) -> None:
    """One line naming a longest safe length below ``minutes``, which is reached."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    found = LONGEST.match(lines[0])
    assert found and found.group(2) == routine, lines[0]
    longest = float(found.group(3))
    assert longest < minutes * 0.95
    fitted = run_voiceguide("show", routine, "--length", longest, "--json")
    assert fitted.returncode == 0, fitted.stderr
    assert_within_doses(json.loads(fitted.stdout))


def test_cat_cow_is_at_most_15_rounds_and_quick_never_10_tilts_at_45():
    morning = run_voiceguide("show", "morning", "--length", 45, "--json")
    assert morning.returncode == 0, morning.stderr
    assert session_totals(json.loads(morning.stdout))["cat-cow"] <= 15
    quick = run_voiceguide("show", "quick", "--length", 45, "--json")
    assert quick.returncode == 2 and "the longest safe version of quick" in quick.stderr


def test_a_short_lower_back_keeps_the_core_hold_before_the_pressure():
    for minutes in (8, 9, 10, 12):
        result = run_voiceguide("show", "lower-back", "--length", minutes, "--json")
        assert result.returncode == 0, result.stderr
        order = [s["technique"] for s in json.loads(result.stdout)["sections"]]
        if "gentle-pressure" in order:
            assert "core-engage" in order[:order.index("gentle-pressure")], (minutes, order)
        else:
            assert "left out gentle-pressure" in result.stderr


def test_a_protecting_step_must_come_before_what_it_protects(tmp_path):
    path = tmp_path / "backwards.toml"
    path.write_text('title = "Backwards"\n[[exercise]]\ntechnique = "gentle-pressure"\n'
                    '[[exercise]]\ntechnique = "core-engage"\n')
    result = run_voiceguide("check", path)
    assert result.returncode == 2
    assert "core-engage protects gentle-pressure, so it comes before it" in result.stderr
    technique = tmp_path / "self-care.toml"
    technique.write_text('title = "S"\nsetup = ["Rest."]\n[movement]\nkind = "hold"\n'
                         '[kept]\ninto = ["self-care"]\nsay = ["Keep it."]\n'
                         'release = ["Let go."]\n')
    result = run_voiceguide("check", technique)
    assert result.returncode == 2 and "into names other techniques" in result.stderr


@pytest.mark.parametrize("breath, limit", [
    ("1-1", "each breath in and out lasts at least 2 seconds"),
    ("4-12-4", "each breath hold lasts at most 4 seconds"),
    ("4-0-1", "each breath in and out lasts at least 2 seconds"),
])
def test_an_unsafe_breath_is_refused_unless_beyond_doses(breath, limit):
    refused = run_voiceguide("show", "morning", "--breath", breath)
    assert refused.returncode == 2 and refused.stdout == ""
    assert len(refused.stderr.strip().splitlines()) == 1
    assert limit in refused.stderr and "--beyond-doses" in refused.stderr
    allowed = run_voiceguide("show", "morning", "--breath", breath, "--beyond-doses", "--json")
    assert allowed.returncode == 0, allowed.stderr
    warnings = [line for line in allowed.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and limit in warnings[0]


def test_a_breath_hold_is_spoken_and_the_settings_keep_the_limits(user_dirs):
    result = run_voiceguide("show", "morning", "--breath", "4-4-4-4", "--json")
    assert result.returncode == 0, result.stderr
    timeline = json.loads(result.stdout)
    cat_cow = [i for i, s in enumerate(timeline["sections"]) if s["technique"] == "cat-cow"]
    holds = [e for e in timeline["events"] if e["section"] in cat_cow and e.get("text") == "Hold."]
    rounds = session_totals(timeline)["cat-cow"]
    assert len(holds) == 2 * rounds                       # after the in-breath and the out-breath
    for value in ("1-1", "4-12-4", "4-0-1"):
        refused = run_voiceguide("config", "set", "breath", value)
        assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
        assert "breath" in refused.stderr and "allowed" in refused.stderr
    assert run_voiceguide("config", "set", "breath", "4-4-4-4").returncode == 0
    (user_dirs["config"] / "settings.toml").write_text('breath = "1-1"\n')
    bad = run_voiceguide("show", "morning")
    assert bad.returncode == 2 and "at least 2 seconds" in bad.stderr
